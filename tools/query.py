"""Read-only SQL on the local warehouse: analytics.duckdb plus every raw_<source>.duckdb attached.

    BATON_QUERY_SQL='select ...' python tools/query.py     (the way `make query SQL=...` passes it:
                                                           never through a shell, so $(...),
                                                           backticks and quotes reach DuckDB as is)
    python tools/query.py [SQL]                             (default: row counts of every table)

Read-only for real: every file is opened or attached READ_ONLY (with no analytics.duckdb yet, the
first raw file is the main database: there is no writable fallback), then DuckDB's access to
anything else is switched off (enable_external_access=false: no COPY TO, no ATTACH of another
file, no read_csv of /etc/passwd, no extension installs) and the configuration locked, before the
SQL runs. Run it with a Python that has target_baton_duckdb installed: the loader's environment
(meltano/.meltano/loaders/target-baton-duckdb/venv, as `make query` does in the jobs image) or .venv.

Lake mode (BATON_WAREHOUSE=lake): every lake of the catalog (analytics and each raw_<source>) is
attached READ_ONLY under its name, then the lakes' secrets are dropped (no second, writable attach)
and the configuration locked. BATON_QUERY_AT=<cycle> (`make query AT=2026-11-28`) attaches analytics
at the snapshot that cycle's dbt build left (analytics._baton.builds); a number is taken as a
snapshot id. Grant the catalog role only SELECT for readers outside the stack (docs/cloud.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

# The kit's one way to reach the warehouse (files or lake), installed in the environments that run this tool.
from target_baton_duckdb import warehouse as wh

COUNTS = """
select database_name as database, schema_name as schema, table_name as "table", estimated_size as rows
from duckdb_tables() where not temporary and not starts_with(database_name, '__ducklake_metadata_') order by all
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A connection that can read the warehouse files and nothing else, and write nothing."""
    analytics = warehouse / "analytics.duckdb"
    raws = sorted(warehouse.glob("raw_*.duckdb"))
    files = ([analytics] if analytics.exists() else []) + raws
    if not files:
        raise FileNotFoundError(f"no DuckDB files in {warehouse}")
    main, others = files[0], files[1:]
    conn = duckdb.connect(str(main), read_only=True)
    try:
        for path in others:
            conn.execute(f"attach {_quote(str(path))} as {_ident(path.stem)} (read_only)")
        conn.execute("set enable_external_access = false")
        conn.execute("set lock_configuration = true")
    except BaseException:
        conn.close()
        raise
    return conn


def snapshot_of(conn: duckdb.DuckDBPyConnection, at: str, catalog: str = "analytics") -> int:
    """The analytics snapshot of a cycle (the newest build recorded for it), or `at` itself if it is a number."""
    if at.isdigit():
        return int(at)
    try:
        row = conn.execute(
            f"select max(snapshot_id) from {_ident(catalog)}._baton.builds where cycle_id = ?", [at]
        ).fetchone()
    except duckdb.CatalogException:
        row = None
    if row is None or row[0] is None:
        raise LookupError(
            f"no dbt build of cycle {at!r} is recorded in the lake (analytics._baton.builds): name a cycle a domain "
            "built in lake mode (make run's summary lists them), or a snapshot id"
        )
    return int(row[0])


def connect_lake(settings: wh.Settings, at: str = "") -> duckdb.DuckDBPyConnection:
    """Every lake of the catalog, read-only; analytics at the snapshot of cycle `at` if given."""
    conn = duckdb.connect(":memory:", config=wh.duckdb_config(settings))
    try:
        wh.prepare_lake(conn, settings)
        names = wh.define_lakes(conn, settings)
        if not names:
            raise LookupError(
                f"the lake's catalog {wh.redact(settings.catalog)} holds no lake yet; load a source first"
            )
        snapshot = None
        if at and "analytics" in names:
            wh.attach_lake(conn, settings, "analytics", read_only=True, alias="_baton_newest")
            snapshot = snapshot_of(conn, at, "_baton_newest")
            conn.execute("detach _baton_newest")
        elif at:
            raise LookupError("no analytics lake yet: run a dbt build first")
        ordered = sorted(names, key=lambda n: (n != "analytics", n))
        for name in ordered:
            wh.attach_lake(conn, settings, name, read_only=True, snapshot=snapshot if name == "analytics" else None)
        conn.execute(f"use {_ident(ordered[0])}")
        for name in names:
            conn.execute(f"drop secret {wh.secret_name(name)}")
        conn.execute("set lock_configuration = true")
        if snapshot is not None:
            print(f"analytics at snapshot {snapshot} (cycle {at})", file=sys.stderr)
    except BaseException:
        conn.close()
        raise
    return conn


def main(argv: list[str]) -> int:
    try:
        settings = wh.Settings.from_env()
    except wh.WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    at = os.environ.get("BATON_QUERY_AT", "").strip()
    warehouse = Path(os.environ.get("BATON_WAREHOUSE_DIR", ".baton/data/warehouse"))
    if settings.mode == "files":
        if at:
            print(
                "error: AT=<cycle> reads a past snapshot, which only the lake keeps (BATON_WAREHOUSE=lake)",
                file=sys.stderr,
            )
            return 1
        if not any(warehouse.glob("*.duckdb")):
            print(f"error: no DuckDB files in {warehouse}; load a source first (make el SOURCE=shop)", file=sys.stderr)
            return 1
    sql = (os.environ.get("BATON_QUERY_SQL") or " ".join(argv)).strip()
    try:
        if settings.mode == "files":
            wh.check_files(sorted(warehouse.glob("*.duckdb")))
            opened = connect(warehouse)
        else:
            opened = connect_lake(settings, at)
    except (wh.WarehouseError, LookupError, duckdb.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        with opened as conn:
            if not sql:
                # estimated_size is an estimate: count each table exactly.
                print(f"{'database':<16} {'schema':<12} {'table':<24} {'rows':>10}")
                for db, schema, table, _ in conn.execute(COUNTS).fetchall():
                    (n,) = conn.execute(
                        f"select count(*) from {_ident(db)}.{_ident(schema)}.{_ident(table)}"
                    ).fetchone()
                    print(f"{db:<16} {schema:<12} {table:<24} {n:>10}")
            else:
                relation = conn.sql(sql)
                if relation is not None:
                    relation.show(max_rows=200)
    except duckdb.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
