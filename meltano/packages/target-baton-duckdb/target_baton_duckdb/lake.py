"""DuckLakes (`lake` mode): one per database, all in one Postgres catalog database, each in its own
metadata schema, its Parquet files under BATON_LAKE_DATA_PATH/<database>/ (see warehouse.py)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_incrementing

from target_baton_duckdb.extensions import load_extensions
from target_baton_duckdb.quoting import ident, literal
from target_baton_duckdb.warehouse_settings import Settings, WarehouseError


def lake_path(settings: Settings, name: str) -> str:
    return f"{settings.data_path}/{name}/"


def secret_name(name: str) -> str:
    """The DuckDB secret that holds where the lake `name` lives (`ATTACH 'ducklake:<secret>'`)."""
    return f"baton_lake_{name}"


def lake_secret_sql(settings: Settings, name: str) -> str:
    """A DuckLake secret for the lake `name`: the catalog (connection string with its password stays out of SQL
    that dbt logs), its metadata schema and its data path."""
    return (
        f"create or replace secret {secret_name(name)} (type ducklake, "
        f"metadata_path {literal('postgres:' + settings.catalog)}, metadata_schema {literal(name)}, "
        f"data_path {literal(lake_path(settings, name))})"
    )


def attach_lake_sql(
    name: str, *, read_only: bool = False, snapshot: int | None = None, alias: str | None = None
) -> str:
    """ATTACH of the DuckLake `name` through its secret; read-only at a snapshot for time travel."""
    options = []
    if read_only:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    where = literal("ducklake:" + secret_name(name))
    return f"attach if not exists {where} as {ident(alias or name)}" + (f" ({', '.join(options)})" if options else "")


def prepare_lake(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Load the lake's extensions from the local folder and give DuckDB the S3 credentials, if the data is on S3."""
    load_extensions(conn, ("ducklake", "postgres") + (("httpfs", "aws") if settings.on_s3 else ()))
    if settings.on_s3:
        conn.execute(s3_secret_sql(settings))


def s3_secret_sql(settings: Settings) -> str:
    """An S3 secret: the key in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) where set,
    else AWS's credential chain (an ECS task role, an instance profile, a profile)."""
    options = ["TYPE s3"]
    if settings.aws_key_id:
        options += [
            "PROVIDER config",
            f"KEY_ID {literal(settings.aws_key_id)}",
            f"SECRET {literal(settings.aws_secret)}",
        ]
        if settings.aws_session_token:
            options.append(f"SESSION_TOKEN {literal(settings.aws_session_token)}")
    else:
        options.append("PROVIDER credential_chain")
    if settings.s3_region:
        options.append(f"REGION {literal(settings.s3_region)}")
    if settings.s3_endpoint:
        options.append(f"ENDPOINT {literal(settings.s3_endpoint)}")
    if settings.s3_url_style:
        options.append(f"URL_STYLE {literal(settings.s3_url_style)}")
    if not settings.s3_use_ssl:
        options.append("USE_SSL false")
    return f"create or replace secret baton_lake_s3 ({', '.join(options)})"


def _maintenance_conninfo(catalog: str) -> tuple[str, str]:
    """The catalog's connection string pointed at the `postgres` database, and the catalog database's name."""
    if "://" in catalog:
        parts = urlsplit(catalog)
        return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/") or "postgres"
    match = re.search(r"(?:^|\s)dbname\s*=\s*(\S+)", catalog)
    dbname = match.group(1).strip("'") if match else "postgres"
    rest = re.sub(r"(?:^|\s)dbname\s*=\s*\S+", "", catalog).strip()
    return f"{rest} dbname=postgres".strip(), dbname


def create_catalog_database(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Create the catalog database on its server (first use of a lake on a Postgres that lacks it)."""
    maintenance, dbname = _maintenance_conninfo(settings.catalog)
    conn.execute(f"attach {literal(maintenance)} as _baton_catalog_server (type postgres)")
    try:
        (exists,) = conn.execute(
            "select count(*) from postgres_query('_baton_catalog_server', "
            f"{literal('select 1 from pg_database where datname = ' + literal(dbname))})"
        ).fetchone()
        if not exists:
            create = literal("create database " + ident(dbname))
            try:  # CREATE DATABASE runs outside a transaction block
                conn.execute(f"call postgres_execute('_baton_catalog_server', {create}, use_transaction => false)")
            except duckdb.Error as exc:
                if not re.search(r"already exists|duplicate key", str(exc)):  # another job created it meanwhile
                    raise
    finally:
        conn.execute("detach _baton_catalog_server")


def attach_lake(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    name: str,
    *,
    read_only: bool = False,
    snapshot: int | None = None,
    alias: str | None = None,
) -> None:
    """Attach one DuckLake; creates the catalog database if it is missing, retries the first-use race of two
    jobs creating the same lake's metadata at once."""
    conn.execute(lake_secret_sql(settings, name))
    sql = attach_lake_sql(name, read_only=read_only, snapshot=snapshot, alias=alias)
    if not settings.on_s3 and not read_only:
        Path(lake_path(settings, name)).mkdir(parents=True, exist_ok=True)

    def attach() -> None:
        try:
            conn.execute(sql)
        except duckdb.Error as exc:
            if "does not exist" not in str(exc) or "database" not in str(exc):
                raise
            create_catalog_database(conn, settings)  # the first lake on this catalog server
            conn.execute(sql)

    # Two jobs that use a new lake at once both create its metadata tables: one wins, the other
    # attaches again after a moment (0.5, 1 and 1.5 s) and finds them.
    lost_a_race = retry_if_exception(
        lambda exc: (
            isinstance(exc, duckdb.Error)
            and bool(re.search(r"duplicate key|already exists|conflict", str(exc), re.IGNORECASE))
        )
    )
    try:
        Retrying(retry=lost_a_race, stop=stop_after_attempt(4), wait=wait_incrementing(0.5, 0.5), reraise=True)(attach)
    except duckdb.Error as exc:
        raise WarehouseError(
            f"cannot attach the lake '{name}' (catalog {redact(settings.catalog)}, data "
            f"{lake_path(settings, name)}): {exc}. Check that the catalog's Postgres answers and its role may "
            "create schemas there, and that the data path is writable (on S3: the bucket, the region and the "
            "job's credentials)."
        ) from exc


def redact(conninfo: str) -> str:
    """A connection string without its password, for messages."""
    conninfo = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", conninfo)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", conninfo)


def lake_databases(conn: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    """The lakes in the catalog database (its metadata schemas), e.g. ['analytics', 'raw_shop']; none if the
    catalog database does not exist yet."""
    load_extensions(conn, ("postgres",))
    try:
        conn.execute(f"attach {literal(settings.catalog)} as _baton_catalog (type postgres, read_only)")
    except duckdb.Error as exc:
        if "does not exist" in str(exc):
            return []
        raise WarehouseError(f"cannot reach the lake's catalog {redact(settings.catalog)}: {exc}") from exc
    try:
        rows = conn.execute(
            "select distinct schema_name from duckdb_tables() where database_name = '_baton_catalog' "
            "and table_name = 'ducklake_snapshot' order by 1"
        ).fetchall()
    finally:
        conn.execute("detach _baton_catalog")
    return [r[0] for r in rows]


def define_lakes(conn: duckdb.DuckDBPyConnection, settings: Settings, names: list[str] = ()) -> list[str]:
    """A secret for each lake in the catalog (and each of `names`), so `ATTACH 'ducklake:baton_lake_<name>'` finds
    it; returns the lakes found in the catalog."""
    found = lake_databases(conn, settings)
    for name in sorted(set(found) | set(names)):
        conn.execute(lake_secret_sql(settings, name))
    return found


def current_snapshot(conn: duckdb.DuckDBPyConnection, name: str) -> int | None:
    """The newest snapshot id of the lake `name` (attached on conn)."""
    row = conn.execute(f"select max(snapshot_id) from ducklake_snapshots({literal(name)})").fetchone()
    return None if row is None or row[0] is None else int(row[0])
