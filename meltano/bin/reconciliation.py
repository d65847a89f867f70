"""The ingestion job's reconciliation (meltano/bin/el.py, step 2): every stream the loader keeps in
raw_<source> (its `_baton.streams` catalogue) against the source the source file declares
(`baton.kind`):
  postgres  row and key counts in the source database against the raw table. Rows changed in the
            source after the load are counted where the raw table has them (see reconcile_postgres)
  files     the rows and distinct keys of the files the extractor reads against the raw table
Streams without key properties compare row counts (with a replication key: the source rows up to
the newest key value in raw); a mismatch says which side has more rows and what to do.
"""

from __future__ import annotations

import csv
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton_contract.declaration import ContractError, Declaration
from baton_contract.job import EXIT_CONFIG, EXIT_DATA
from baton_contract.naming import plugins, raw_file, raw_name
from target_baton_duckdb import warehouse


@dataclass
class Load:
    """What a load reported: rows loaded, records the extractor read and the loader's report, per stream."""

    rows: int | None
    read: dict[str, int]
    loaded: dict[str, dict[str, Any]]


@dataclass
class Stream:
    stream: str
    schema: str
    table: str
    keys: list[str]
    replication_key: str | None


def raw_path(source: str) -> Path:
    """The raw database of a source in `files` mode (in `lake` mode, the lake of the same name)."""
    return Path(os.environ.get("BATON_WAREHOUSE_DIR", "/data/warehouse")) / raw_file(source)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def raw_streams(conn: Any) -> list[Stream]:
    has_catalogue = conn.execute(
        "select count(*) from information_schema.tables where table_schema = '_baton' and table_name = 'streams'"
    ).fetchone()[0]
    if not has_catalogue:
        return []
    rows = conn.execute(
        "select stream, table_schema, table_name, key_properties, replication_key from _baton.streams order by stream"
    ).fetchall()
    return [Stream(s, sch, t, list(k or []), rk or None) for s, sch, t, k, rk in rows]


def _raw_counts(conn: Any, s: Stream) -> tuple[int, int]:
    table = f"{_ident(s.schema)}.{_ident(s.table)}"
    keys = ", ".join(_ident(k) for k in s.keys)
    distinct = f"count(distinct ({keys}))" if s.keys else "count(*)"
    return tuple(conn.execute(f"select count(*), {distinct} from {table}").fetchone())  # type: ignore[return-value]


def source_url(decl: Declaration) -> str:
    """The source database's URL for psycopg: the extractor's sqlalchemy_url, variables expanded."""
    url = os.path.expandvars(str((decl.extractor.get("config") or {}).get("sqlalchemy_url", "")))
    if not url or "$" in url:
        raise ContractError(
            f"{decl.path}: {plugins(decl.source)[0]}'s sqlalchemy_url is not set ({url!r})", EXIT_CONFIG
        )
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def reconcile_postgres(decl: Declaration, conn: Any, streams: list[Stream]) -> dict[str, dict[str, int]]:
    """Source rows and keys against raw, per stream.

    The source keeps changing after the load. With a replication key, W = the newest key value in
    raw: the raw table must hold every source row with key <= W, plus the rows changed after the
    load (key > W) that it held already. Anything else (a row lost, a row deleted in raw, a
    duplicate key) is a mismatch.
    """
    import psycopg

    figures: dict[str, dict[str, int]] = {}
    with psycopg.connect(source_url(decl), autocommit=False) as pg:
        pg.execute("set transaction isolation level repeatable read read only")
        pg.execute("set local timezone = 'UTC'")
        for s in streams:
            schema, _, table = s.stream.partition("-")
            source_table = f"{_ident(schema)}.{_ident(table or schema)}"
            key_list = ", ".join(_ident(k) for k in s.keys)
            # Keys that hold the table's primary key are distinct on every row: no count(distinct)
            # (a sort of the whole table: 2 s of a 10M-row table, against 0.4 s for its count).
            unique = not s.keys or _holds_primary_key(pg, source_table, s.keys)
            distinct = "count(*)" if unique else f"count(distinct ({key_list}))"
            raw_rows, raw_keys = _raw_counts(conn, s)
            newest = None
            if s.replication_key:
                rk = _ident(s.replication_key)
                (newest,) = conn.execute(
                    f"select max({rk})::varchar from {_ident(s.schema)}.{_ident(s.table)}"
                ).fetchone()
            # One scan of the source table for its rows, its keys, the rows up to raw's newest
            # replication key value and those after it (a table of 10M rows takes about 0.4 s a scan).
            if newest is None:
                upto_sql, params = "0, 0", ()
            elif s.keys:
                upto_sql = f"count(*) filter (where {rk} <= %s), count(*) filter (where {rk} > %s)"
                params = (newest, newest)
            else:  # rows without a key value are read on every run
                upto_sql, params = f"count(*) filter (where {rk} <= %s or {rk} is null), 0", (newest,)
            (total, total_keys, upto, after) = pg.execute(
                f"select count(*), {distinct}, {upto_sql} from {source_table}", params
            ).fetchone()
            expected = total
            if s.replication_key and not s.keys:
                # No keys: raw must hold exactly the source rows up to its newest key value (rows
                # added after the load lie beyond it), plus those without a key value.
                if newest is not None:
                    expected = upto
            elif s.replication_key and s.keys:
                if newest is None:
                    expected = 0 if raw_rows == 0 else total
                else:
                    # The keys of the rows changed since the load, read only where there are some (a
                    # second scan of a table without an index on its replication key).
                    later = []
                    if after:
                        later = pg.execute(
                            f"select {key_list} from {source_table} where {rk} > %s", (newest,)
                        ).fetchall()
                    held = 0
                    if later:
                        _keys_table(conn, s, later)
                        (held,) = conn.execute(
                            f"select count(*) from {_ident(s.schema)}.{_ident(s.table)} "
                            f"semi join _later using ({key_list})"
                        ).fetchone()
                    expected = upto + held
            figures[s.stream] = {
                "source": int(total),
                "source_keys": int(total_keys),
                "expected": int(expected),
                "raw": int(raw_rows),
                "raw_keys": int(raw_keys),
            }
        pg.rollback()
    return figures


def _holds_primary_key(pg: Any, table: str, keys: list[str]) -> bool:
    """Whether `keys` include every column of the table's primary key (so no two rows share them)."""
    primary = pg.execute(
        "select a.attname from pg_index i join pg_attribute a"
        " on a.attrelid = i.indrelid and a.attnum = any(i.indkey)"
        " where i.indrelid = to_regclass(%s) and i.indisprimary",
        (table,),
    ).fetchall()
    return bool(primary) and {name for (name,) in primary} <= set(keys)


def _keys_table(conn: Any, s: Stream, keys: list[tuple]) -> None:
    """A temp table `_later` of the given key tuples, typed like the raw table's key columns."""
    key_list = ", ".join(_ident(k) for k in s.keys)
    conn.execute(
        f"create or replace temp table _later as select {key_list} from {_ident(s.schema)}.{_ident(s.table)} limit 0"
    )
    row = "(" + ", ".join("?" for _ in s.keys) + ")"
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        conn.execute(f"insert into _later values {', '.join(row for _ in chunk)}", [v for k in chunk for v in k])


def reconcile_files(decl: Declaration, conn: Any, streams: list[Stream], load: Load) -> dict[str, dict[str, int]]:
    """Rows and distinct keys of the files the extractor reads, against raw."""
    files = (decl.extractor.get("config") or {}).get("files") or []
    by_table = {f.get("table_name"): f for f in files}
    figures: dict[str, dict[str, int]] = {}
    for s in streams:
        spec = by_table.get(s.stream)
        if spec is None:
            continue
        pattern = os.path.expandvars(spec["path"])
        keys = list(spec.get("primary_keys") or s.keys)
        rows, seen = 0, set()
        for name in sorted(glob.glob(pattern)):
            with open(name, newline="", encoding=spec.get("encoding", "utf-8")) as fh:
                for record in csv.DictReader(fh, delimiter=spec.get("delimiter", ",")):
                    rows += 1
                    seen.add(tuple(record.get(k) for k in keys) if keys else rows)
        raw_rows, raw_keys = _raw_counts(conn, s)
        figures[s.stream] = {
            "source": rows,
            "source_keys": len(seen),
            "expected": len(seen),
            "raw": int(raw_rows),
            "raw_keys": int(raw_keys),
            "read": int(load.read.get(s.stream, 0)),
        }
    return figures


def mismatches(figures: dict[str, dict[str, int]]) -> list[str]:
    """Each stream whose raw table differs from the source, saying which side has more and what to do."""
    problems = []
    for stream, f in sorted(figures.items()):
        expected, raw = f["expected"], f["raw"]
        if raw > expected:
            problems.append(
                f"{stream}: raw has {raw - expected} row(s) more than the source ({raw} against {expected}): likely "
                "duplicates from a re-read (a table without key properties loaded by a loader that appended, or "
                "rows removed at the source after they were loaded). Reset the stream's bookmark "
                "(`make state`, or the meltano_state DAG) so the next run reloads the table"
            )
        elif raw < expected:
            problems.append(
                f"{stream}: raw has {expected - raw} row(s) fewer than the source ({raw} against {expected}): a "
                "lost load or rows deleted in raw. Reset the stream's bookmark (`make state`, or the meltano_state "
                "DAG) so the next run reloads the table"
            )
        elif f["raw_keys"] != raw:
            problems.append(
                f"{stream}: raw has {raw} rows but {f['raw_keys']} distinct keys (duplicate keys). Reset the "
                "stream's bookmark (`make state`, or the meltano_state DAG) so the next run reloads the table"
            )
    return problems


def _settings() -> warehouse.Settings:
    try:
        return warehouse.Settings.from_env()
    except warehouse.WarehouseError as exc:
        raise ContractError(str(exc), EXIT_CONFIG) from exc


def in_lake() -> bool:
    """Whether raw_<source> is a lake (BATON_WAREHOUSE, read as the loader reads it)."""
    return _settings().mode == "lake"


def connect_raw(decl: Declaration) -> Any:
    """raw_<source> attached read-only and used as the default, in an in-memory DuckDB (temp tables
    allowed): the file, or the lake (whose every query reads its latest snapshot)."""
    settings, name, path = _settings(), raw_name(decl.source), raw_path(decl.source)
    if settings.mode == "files" and not path.exists():
        raise ContractError(f"{path} does not exist after the load of {decl.source}", EXIT_DATA)
    try:
        return warehouse.connect_reader([name], settings=settings, paths={name: path})
    except warehouse.WarehouseError as exc:
        raise ContractError(str(exc), EXIT_CONFIG) from exc


def reconcile(decl: Declaration, load: Load, conn: Any = None) -> dict[str, dict[str, int]]:
    """Every stream of raw_<source> (its `_baton.streams` catalogue) against the source `baton.kind`
    names; on `conn` where the caller opened it (connect_raw), else on a connection of its own."""
    if conn is None:
        conn = connect_raw(decl)
    with conn:
        conn.execute("set timezone = 'UTC'")
        streams = raw_streams(conn)
        if not streams:
            where = f"the lake {raw_name(decl.source)}" if in_lake() else str(raw_path(decl.source))
            raise ContractError(
                f"{where} has no _baton.streams catalogue: was it written by target-baton-duckdb?", EXIT_DATA
            )
        if decl.kind == "postgres":
            return reconcile_postgres(decl, conn, streams)
        return reconcile_files(decl, conn, streams, load)
