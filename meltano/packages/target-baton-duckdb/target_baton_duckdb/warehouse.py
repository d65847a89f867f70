"""Where the warehouse lives, and the one way every part of the kit connects to it.

One setting, BATON_WAREHOUSE, picks the warehouse:

- `files` (the sandbox default): one DuckDB file per database in BATON_WAREHOUSE_DIR,
  `raw_<source>.duckdb` (written by that source's loader) and `analytics.duckdb` (written by dbt).
- `lake`: a DuckLake per database, all in one Postgres catalog database (BATON_LAKE_CATALOG, a
  libpq connection string), each in its own metadata schema named like the database (`raw_shop`,
  `analytics`), with its Parquet files under BATON_LAKE_DATA_PATH/<database>/ (a folder, or
  s3://<bucket>/<prefix>). The database names, schemas and tables are those of `files` mode, so the
  loader, the reconciliation, dbt and the queries read the same in both.

The loader (store.py), the ingestion job's reconciliation (meltano/bin/el.py), dbt (through the
dbt-duckdb plugin in dbt_warehouse.py) and `make query` (tools/query.py) all connect here. This
module needs nothing but duckdb and the standard library, so each of their environments can load it.

Extensions (ducklake, postgres, httpfs, aws) come from the PyPI wheels pinned with duckdb
(`duckdb-extension-<name>`): the jobs image installs them at build time into
BATON_DUCKDB_EXTENSION_DIR; elsewhere they are installed from the wheel's file on first use. DuckDB's
autoinstall from the network is off on every connection: nothing is ever downloaded.

Memory: BATON_DUCKDB_MEMORY_LIMIT (e.g. `2GB`), BATON_DUCKDB_THREADS, BATON_DUCKDB_TEMP_DIR; empty or
unset leaves DuckDB's default.
"""

from __future__ import annotations

import importlib
import os
import re
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import duckdb

MODES = ("files", "lake")
EXTENSIONS = ("ducklake", "postgres", "httpfs", "aws")
# DuckDB names the postgres extension's file postgres_scanner.
EXTENSION_FILES = {"postgres": "postgres_scanner"}
# The storage versions this duckdb reads (1.5.x: 64..68); a file written by duckdb 2.0 carries a higher one.
NEWEST_READABLE_STORAGE = 68


class WarehouseError(Exception):
    """The warehouse cannot be reached or opened; the message says what to do."""


def _env(environ: dict[str, str] | os._Environ, key: str, default: str = "") -> str:
    return (environ.get(key) or "").strip() or default


@dataclass(frozen=True)
class Settings:
    mode: str = "files"
    files_dir: str = "/data/warehouse"
    catalog: str = ""  # libpq connection string (key=value or postgresql://...) of the catalog database
    data_path: str = ""  # folder or s3://bucket/prefix; each database under <data_path>/<name>/
    s3_endpoint: str = ""  # host:port of an S3-compatible endpoint; empty: AWS
    s3_url_style: str = ""  # `path` for endpoints without virtual hosts (moto, MinIO); empty: DuckDB's default
    s3_use_ssl: bool = True
    s3_region: str = ""
    extension_dir: str = ""
    memory_limit: str = ""
    threads: str = ""
    temp_dir: str = ""
    aws_key_id: str = ""  # AWS_ACCESS_KEY_ID; empty: AWS's credential chain (an ECS task role)
    aws_secret: str = ""
    aws_session_token: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | os._Environ | None = None) -> Settings:
        env = os.environ if environ is None else environ
        mode = _env(env, "BATON_WAREHOUSE", "files").lower()
        if mode not in MODES:
            raise WarehouseError(f"BATON_WAREHOUSE={mode!r} is not a warehouse: set it to `files` or `lake`")
        settings = cls(
            mode=mode,
            files_dir=_env(env, "BATON_WAREHOUSE_DIR", "/data/warehouse"),
            catalog=_env(env, "BATON_LAKE_CATALOG"),
            data_path=_env(env, "BATON_LAKE_DATA_PATH").rstrip("/"),
            s3_endpoint=_env(env, "BATON_LAKE_S3_ENDPOINT"),
            s3_url_style=_env(env, "BATON_LAKE_S3_URL_STYLE"),
            s3_use_ssl=_env(env, "BATON_LAKE_S3_USE_SSL", "true").lower() not in ("0", "false", "no"),
            s3_region=_env(env, "AWS_REGION") or _env(env, "AWS_DEFAULT_REGION"),
            extension_dir=_env(env, "BATON_DUCKDB_EXTENSION_DIR"),
            memory_limit=_env(env, "BATON_DUCKDB_MEMORY_LIMIT"),
            threads=_env(env, "BATON_DUCKDB_THREADS"),
            temp_dir=_env(env, "BATON_DUCKDB_TEMP_DIR"),
            aws_key_id=_env(env, "AWS_ACCESS_KEY_ID"),
            aws_secret=_env(env, "AWS_SECRET_ACCESS_KEY"),
            aws_session_token=_env(env, "AWS_SESSION_TOKEN"),
        )
        if mode == "lake":
            missing = [
                k
                for k, v in (("BATON_LAKE_CATALOG", settings.catalog), ("BATON_LAKE_DATA_PATH", settings.data_path))
                if not v
            ]
            if missing:
                raise WarehouseError(
                    f"BATON_WAREHOUSE=lake needs {' and '.join(missing)}: the lake's catalog (a Postgres connection "
                    "string, e.g. postgresql://user:password@host:5432/lake) and its data path (a folder or "
                    "s3://bucket/prefix). The sandbox sets both in settings.env and compose; the cloud in the job's "
                    "task definition."
                )
        return settings

    @property
    def on_s3(self) -> bool:
        return self.data_path.startswith("s3://")


def duckdb_config(settings: Settings) -> dict[str, Any]:
    """Settings for duckdb.connect: no extension from the network, the kit's extension folder, memory."""
    config: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": True}
    if settings.extension_dir:
        config["extension_directory"] = settings.extension_dir
    if settings.memory_limit:
        config["memory_limit"] = settings.memory_limit
    if settings.threads:
        config["threads"] = int(settings.threads)
    if settings.temp_dir:
        config["temp_directory"] = settings.temp_dir
    return config


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- extensions -----------------------------------------------------------------------------------
def wheel_file(name: str) -> Path:
    """The extension file shipped by the PyPI wheel duckdb-extension-<name> of this duckdb's version."""
    try:
        module = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError as exc:
        raise WarehouseError(
            f"the DuckDB extension '{name}' is not installed in this Python environment ({sys.prefix}): install "
            f"duckdb-extension-{name}=={duckdb.__version__} (the kit's locks pin it with duckdb)"
        ) from exc
    folder = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    found = sorted(folder.glob("*.duckdb_extension"))
    if not found:
        raise WarehouseError(
            f"duckdb-extension-{name} has no extension for duckdb {duckdb.__version__} under {folder}: its version "
            "must equal duckdb's (one pin in the kit's pyproject files)"
        )
    return found[0]


def install_extensions(conn: duckdb.DuckDBPyConnection, names: tuple[str, ...] = EXTENSIONS) -> None:
    """Install, from the wheels' files (never the network), the extensions the connection lacks."""
    installed = {
        row[0] for row in conn.execute("select extension_name from duckdb_extensions() where installed").fetchall()
    }
    for name in names:
        if EXTENSION_FILES.get(name, name) not in installed and name not in installed:
            conn.execute(f"install {_literal(str(wheel_file(name)))}")


def load_extensions(conn: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> None:
    install_extensions(conn, names)
    for name in names:
        conn.execute(f"load {name}")


# --- connections ----------------------------------------------------------------------------------
def _storage_version(path: Path) -> int | None:
    try:
        with path.open("rb") as fh:
            header = fh.read(20)
    except OSError:
        return None
    if len(header) < 20 or header[8:12] != b"DUCK":
        return None
    return struct.unpack("<Q", header[12:20])[0]


def newer_file_error(path: Path, exc: Exception | None = None) -> WarehouseError | None:
    """A clear error for a DuckDB file written by a newer DuckDB (e.g. 2.0) than this one, else None."""
    version = _storage_version(path)
    if not ((version is not None and version > NEWEST_READABLE_STORAGE) or "newer version of DuckDB" in str(exc or "")):
        return None
    return WarehouseError(
        f"{path} was written by a newer DuckDB (storage version {version}) than this kit's duckdb "
        f"{duckdb.__version__}, which cannot read it (DuckLake's extensions exist for duckdb 1.5.x only, so the kit "
        "holds 1.5). Either start the sandbox's data over: `make reset CONFIRM=yes`, then `make up` (the sources "
        "load again from the start); or keep the data: with duckdb 2.0 run `EXPORT DATABASE 'dump' (FORMAT parquet)` "
        f"on the file, move it aside, and with duckdb {duckdb.__version__} `IMPORT DATABASE 'dump'` into a new file "
        "of the same name."
    )


def check_files(paths: list[Path]) -> None:
    """Refuse, with what to do, files that this duckdb cannot read (written by a newer DuckDB)."""
    for path in paths:
        error = newer_file_error(path)
        if error:
            raise error


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
        f"metadata_path {_literal('postgres:' + settings.catalog)}, metadata_schema {_literal(name)}, "
        f"data_path {_literal(lake_path(settings, name))})"
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
    where = _literal("ducklake:" + secret_name(name))
    return f"attach if not exists {where} as {_ident(alias or name)}" + (f" ({', '.join(options)})" if options else "")


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
            f"KEY_ID {_literal(settings.aws_key_id)}",
            f"SECRET {_literal(settings.aws_secret)}",
        ]
        if settings.aws_session_token:
            options.append(f"SESSION_TOKEN {_literal(settings.aws_session_token)}")
    else:
        options.append("PROVIDER credential_chain")
    if settings.s3_region:
        options.append(f"REGION {_literal(settings.s3_region)}")
    if settings.s3_endpoint:
        options.append(f"ENDPOINT {_literal(settings.s3_endpoint)}")
    if settings.s3_url_style:
        options.append(f"URL_STYLE {_literal(settings.s3_url_style)}")
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
    conn.execute(f"attach {_literal(maintenance)} as _baton_catalog_server (type postgres)")
    try:
        (exists,) = conn.execute(
            "select count(*) from postgres_query('_baton_catalog_server', "
            f"{_literal('select 1 from pg_database where datname = ' + _literal(dbname))})"
        ).fetchone()
        if not exists:
            create = _literal("create database " + _ident(dbname))
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
    for attempt in range(4):
        try:
            conn.execute(sql)
            return
        except duckdb.Error as exc:
            text = str(exc)
            if "does not exist" in text and "database" in text and attempt == 0:
                create_catalog_database(conn, settings)
                continue
            if attempt < 3 and re.search(r"duplicate key|already exists|conflict", text, re.IGNORECASE):
                time.sleep(0.5 * (attempt + 1))
                continue
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


def connect(
    name: str,
    *,
    read_only: bool = False,
    settings: Settings | None = None,
    path: str | Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the warehouse's database `name` (`raw_shop`, `analytics`):
    the file <files_dir>/<name>.duckdb (or `path`), or the DuckLake `name`. Unqualified names
    (`shop.orders`, `_baton.streams`) resolve in it, in both modes."""
    settings = settings or Settings.from_env()
    config = duckdb_config(settings)
    if settings.mode == "files":
        file = Path(path) if path is not None else Path(settings.files_dir) / f"{name}.duckdb"
        if not read_only:
            file.parent.mkdir(parents=True, exist_ok=True)
        try:
            return duckdb.connect(str(file), read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise (newer_file_error(file, exc) or exc) from exc
    conn = duckdb.connect(":memory:", config=config)
    try:
        prepare_lake(conn, settings)
        attach_lake(conn, settings, name, read_only=read_only)
        conn.execute(f"use {_ident(name)}")
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(
    names: list[str],
    *,
    settings: Settings | None = None,
    paths: dict[str, Path] | None = None,
    snapshots: dict[str, int] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with each database of `names` attached READ_ONLY under its name (the first one
    the default): files (<files_dir>/<name>.duckdb, or paths[name]) or lakes (at snapshots[name] if given).
    Temp tables stay possible (they live in memory)."""
    settings = settings or Settings.from_env()
    conn = duckdb.connect(":memory:", config=duckdb_config(settings))
    try:
        if settings.mode == "lake":
            prepare_lake(conn, settings)
        for name in names:
            if settings.mode == "files":
                file = (paths or {}).get(name) or Path(settings.files_dir) / f"{name}.duckdb"
                check_files([file])
                try:
                    conn.execute(f"attach {_literal(str(file))} as {_ident(name)} (read_only)")
                except duckdb.Error as exc:
                    raise (newer_file_error(file, exc) or exc) from exc
            else:
                attach_lake(conn, settings, name, read_only=True, snapshot=(snapshots or {}).get(name))
        if names:
            conn.execute(f"use {_ident(names[0])}")
    except BaseException:
        conn.close()
        raise
    return conn


def lake_databases(conn: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    """The lakes in the catalog database (its metadata schemas), e.g. ['analytics', 'raw_shop']; none if the
    catalog database does not exist yet."""
    load_extensions(conn, ("postgres",))
    try:
        conn.execute(f"attach {_literal(settings.catalog)} as _baton_catalog (type postgres, read_only)")
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


def connect_path(path: str | Path, **kwargs: Any) -> duckdb.DuckDBPyConnection:
    """connect() for a loader configured with a file path: in lake mode the file's stem names the lake."""
    return connect(Path(path).stem, path=path, **kwargs)


def current_snapshot(conn: duckdb.DuckDBPyConnection, name: str) -> int | None:
    """The newest snapshot id of the lake `name` (attached on conn)."""
    row = conn.execute(f"select max(snapshot_id) from ducklake_snapshots({_literal(name)})").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def main(argv: list[str]) -> int:
    """`python warehouse.py install-extensions DIR`: install the lake's extensions from the wheels into DIR
    (the jobs image does this at build time)."""
    if len(argv) != 2 or argv[0] != "install-extensions":
        print(main.__doc__, file=sys.stderr)
        return 2
    Path(argv[1]).mkdir(parents=True, exist_ok=True)
    with duckdb.connect(
        ":memory:", config={"extension_directory": argv[1], "autoinstall_known_extensions": False}
    ) as conn:
        install_extensions(conn)
        load_extensions(conn, EXTENSIONS)
        found = conn.execute(
            "select extension_name, install_path from duckdb_extensions() where installed and install_path like ?",
            [argv[1].rstrip("/") + "/%"],
        ).fetchall()
    for name, where in sorted(found):
        print(f"installed {name}: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
