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
module and its parts (warehouse_settings.py, extensions.py, duckdb_files.py, lake.py, quoting.py) need
nothing but duckdb and the standard library, so each of their environments can load them.

Extensions (ducklake, postgres, httpfs, aws) come from the PyPI wheels pinned with duckdb
(`duckdb-extension-<name>`): the jobs image installs them at build time into
BATON_DUCKDB_EXTENSION_DIR; elsewhere they are installed from the wheel's file on first use. DuckDB's
autoinstall from the network is off on every connection: nothing is ever downloaded.

Memory: BATON_DUCKDB_MEMORY_LIMIT (e.g. `2GB`), BATON_DUCKDB_THREADS, BATON_DUCKDB_TEMP_DIR; empty or
unset leaves DuckDB's default.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import duckdb

from target_baton_duckdb.duckdb_files import NEWEST_READABLE_STORAGE, check_files, newer_file_error, take_writer_turn
from target_baton_duckdb.extensions import EXTENSIONS, install_extensions, load_extensions, wheel_file
from target_baton_duckdb.lake import (
    attach_lake,
    attach_lake_sql,
    create_catalog_database,
    current_snapshot,
    define_lakes,
    lake_databases,
    lake_path,
    lake_secret_sql,
    prepare_lake,
    redact,
    s3_secret_sql,
    secret_name,
)
from target_baton_duckdb.quoting import ident, literal
from target_baton_duckdb.warehouse_settings import MODES, Settings, WarehouseError, duckdb_config

__all__ = [
    "EXTENSIONS",
    "MODES",
    "NEWEST_READABLE_STORAGE",
    "Settings",
    "WarehouseError",
    "attach_lake",
    "attach_lake_sql",
    "check_files",
    "connect",
    "connect_path",
    "connect_reader",
    "create_catalog_database",
    "current_snapshot",
    "define_lakes",
    "drop",
    "duckdb_config",
    "install_extensions",
    "lake_databases",
    "lake_path",
    "lake_secret_sql",
    "load_extensions",
    "newer_file_error",
    "prepare_lake",
    "redact",
    "s3_secret_sql",
    "secret_name",
    "take_writer_turn",
    "wheel_file",
]


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
        conn.execute(f"use {ident(name)}")
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
                    conn.execute(f"attach {literal(str(file))} as {ident(name)} (read_only)")
                except duckdb.Error as exc:
                    raise (newer_file_error(file, exc) or exc) from exc
            else:
                attach_lake(conn, settings, name, read_only=True, snapshot=(snapshots or {}).get(name))
        if names:
            conn.execute(f"use {ident(names[0])}")
    except BaseException:
        conn.close()
        raise
    return conn


def connect_path(path: str | Path, **kwargs: Any) -> duckdb.DuckDBPyConnection:
    """connect() for a loader configured with a file path: in lake mode the file's stem names the lake."""
    return connect(Path(path).stem, path=path, **kwargs)


def drop(names: list[str], settings: Settings | None = None) -> list[str]:
    """Delete the warehouse databases `names` (`raw_shop`, ...) with everything in them, so the next load
    makes each anew: in `files` mode the file and its write-ahead log; in `lake` mode every table's data
    files (on S3 too: DuckLake deletes them) and then the lake's metadata schema in the catalog.
    Returns what was deleted, one line each; a database that does not exist is skipped."""
    bad = [name for name in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)]
    if bad:
        raise WarehouseError(f"not a warehouse database name: {', '.join(map(repr, bad))} (e.g. raw_shop)")
    settings = settings or Settings.from_env()
    done: list[str] = []
    if settings.mode == "files":
        for name in names:
            file = Path(settings.files_dir) / f"{name}.duckdb"
            for part in (file, file.with_name(file.name + ".wal")):
                if part.exists():
                    part.unlink()
                    done.append(f"deleted {part}")
        return done
    with duckdb.connect(":memory:", config=duckdb_config(settings)) as conn:
        prepare_lake(conn, settings)
        existing = set(lake_databases(conn, settings))
        for name in names:
            if name not in existing:
                continue
            attach_lake(conn, settings, name)
            tables = conn.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = ?", [name]
            ).fetchall()
            for schema, table in tables:
                conn.execute(f"drop table {ident(name)}.{ident(schema)}.{ident(table)}")
            # Every snapshot but the newest (which holds nothing now) expired, their files deleted
            # (fetched: a table function's result not read is not run to its end).
            conn.execute(
                f"select count(*) from ducklake_expire_snapshots({literal(name)}, older_than => now())"
            ).fetchall()
            conn.execute(
                f"select count(*) from ducklake_cleanup_old_files({literal(name)}, cleanup_all => true)"
            ).fetchall()
            conn.execute(f"detach {ident(name)}")
            conn.execute(f"attach {literal(settings.catalog)} as _baton_catalog (type postgres)")
            try:
                drop_schema = literal(f"drop schema if exists {ident(name)} cascade")
                conn.execute(f"call postgres_execute('_baton_catalog', {drop_schema})")
            finally:
                conn.execute("detach _baton_catalog")
            where = lake_path(settings, name)
            done.append(f"dropped the lake {name}: {len(tables)} table(s), their files under {where}")
    return done


USAGE = """python -m target_baton_duckdb.warehouse COMMAND
  install-extensions DIR   install the lake's extensions from the wheels into DIR (the jobs image does
                           this at build time, with the loader's environment)
  drop NAME...             delete the warehouse databases NAME (raw_shop, ...) and everything in them,
                           in the mode BATON_WAREHOUSE picks (`make seed` starts the sample sources over)"""


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "drop":
        try:
            for line in drop(argv[1:]) or [f"nothing to delete: no {' or '.join(argv[1:])} in the warehouse"]:
                print(line)
        except (WarehouseError, duckdb.Error) as exc:
            print(f"cannot delete {', '.join(argv[1:])}: {exc}", file=sys.stderr)
            return 1
        return 0
    if len(argv) != 2 or argv[0] != "install-extensions":
        print(USAGE, file=sys.stderr)
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
