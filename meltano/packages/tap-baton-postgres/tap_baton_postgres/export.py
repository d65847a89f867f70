"""Bulk export of one table into files, in one of two formats.

- CSV (`export_table`): Postgres `COPY ... TO STDOUT WITH (FORMAT csv)`, in one REPEATABLE READ,
  read-only transaction: the replication key's maximum and the rows are read from the same
  snapshot, so the bookmark written afterwards covers exactly the rows exported. The COPY output is
  split into files of at most `batch_size_rows` rows while it streams (libpq hands over one CSV row
  per CopyData message, so a file never ends inside a row, even one holding a quoted newline); each
  file is announced as soon as it is closed, so a loader can load it while the next one is written.
- Parquet (`export_parquet`): DuckDB's Postgres scanner reads the table by binary COPY, in ranges of
  pages over as many connections as DuckDB has threads, all on one exported snapshot, and writes
  typed Parquet files. Binary values cost Postgres far less to write than their text (timestamps,
  numbers, uuids) and the loader reads typed columns instead of parsing text. Only columns whose
  type both carry exactly take this format (`parquet_refusal`); the bookmark is the maximum of the
  exported rows themselves, so it covers exactly them.
"""

from __future__ import annotations

import json
import os
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ

# Postgres base types (format_type without modifiers) whose COPY text form a loader can read
# back by the Singer schema alone. Anything else makes the stream take the record path.
SUPPORTED_TYPES = frozenset(
    {
        "smallint",
        "integer",
        "bigint",
        "numeric",
        "real",
        "double precision",
        "boolean",
        "text",
        "character varying",
        "character",
        "uuid",
        "date",
        "timestamp with time zone",
        "timestamp without time zone",
        "time without time zone",
        "json",
        "jsonb",
    }
)

# Arrays of these element types are exported as their JSON text (`to_json`), the very text a
# loader writes for the list the record path delivers: `{a,"b c"}` -> `["a","b c"]`.
ARRAY_ELEMENT_TYPES = frozenset(
    {"smallint", "integer", "bigint", "boolean", "text", "character varying", "character", "uuid"}
)

# Postgres base types that DuckDB's Postgres scanner reads by binary COPY into a DuckDB type holding
# every value exactly, and that Parquet keeps as they are; plus enums (their labels, as text) and
# `numeric(p,s)` up to DuckDB's widest DECIMAL. Not here, so exported as CSV: `numeric` without a
# precision or wider than 38 digits (the scanner reads DOUBLE), `real` (a float4 widened to a double
# differs from its shortest text), `character(n)` (the scanner strips its padding), `time` (Postgres
# allows 24:00:00), arrays, and everything CSV does not carry either.
PARQUET_TYPES = frozenset(
    {
        "smallint",
        "integer",
        "bigint",
        "double precision",
        "boolean",
        "text",
        "character varying",
        "uuid",
        "date",
        "timestamp with time zone",
        "timestamp without time zone",
        "json",
        "jsonb",
    }
)
MAX_PARQUET_DECIMAL_PRECISION = 38

_COLUMN_TYPES = """
select a.attname, format_type(a.atttypid, null), t.typtype,
       case when a.atttypid = 'numeric'::regtype and a.atttypmod >= 4
            then ((a.atttypmod - 4) >> 16) & 65535 end
from pg_attribute a join pg_type t on t.oid = a.atttypid
where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
"""


def _array_element(type_name: str) -> str | None:
    """`text[]` -> `text`; None for a type that is not an array."""
    return type_name.removesuffix("[]") if type_name.endswith("[]") else None


class UnsupportedColumnsError(Exception):
    """Raised before anything is exported when a selected column's type has no CSV contract."""

    def __init__(self, columns: dict[str, str]):
        self.columns = columns
        super().__init__(", ".join(f"{c} ({t})" for c, t in columns.items()))


@dataclass
class TableExport:
    """What to export: a table, its columns (file order), an optional replication key window."""

    schema: str
    table: str
    columns: list[str]
    replication_key: str | None = None
    start_value: t.Any = None
    where_clauses: list[str] = field(default_factory=list)
    json_columns: set[str] = field(default_factory=set)  # arrays, exported as their JSON text
    decimal_columns: list[str] = field(default_factory=list)  # numeric(p,s): checked for NaN (Parquet)

    @property
    def relation(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.table)


def _column_types(conn, export: TableExport) -> dict[str, tuple[str, str, int | None]]:
    """Column -> (type without modifiers, typtype, numeric precision or None)."""
    with conn.cursor() as cur:
        cur.execute(_COLUMN_TYPES, (export.relation.as_string(conn),))
        return {name: (type_name, typtype, precision) for name, type_name, typtype, precision in cur.fetchall()}


def unsupported_columns(conn, export: TableExport) -> dict[str, str]:
    """Selected columns whose Postgres type the CSV path does not carry, with that type. Arrays
    it carries (see ARRAY_ELEMENT_TYPES) are added to `export.json_columns`."""
    types = _column_types(conn, export)
    result = {}
    for column in export.columns:
        type_name, typtype, _ = types.get(column, ("(missing)", "", None))
        if typtype == "e":  # enum labels are text
            continue
        if _array_element(type_name) in ARRAY_ELEMENT_TYPES:
            export.json_columns.add(column)
            continue
        if type_name not in SUPPORTED_TYPES:
            result[column] = type_name
    return result


class _RotatingFiles:
    """A file-like sink for `copy_expert`: one `write` per CSV row, a new file every N rows."""

    def __init__(self, directory: Path, prefix: str, max_rows: int, on_file: t.Callable[[Path, int], None]):
        self.directory = directory
        self.prefix = prefix
        self.max_rows = max_rows
        self.on_file = on_file
        self.rows = 0
        self.files = 0
        self._file: t.BinaryIO | None = None
        self._path: Path | None = None
        self._file_rows = 0

    def write(self, data: bytes) -> int:
        if self._file is None:
            self._open()
        self._file.write(data)  # type: ignore[union-attr]
        self._file_rows += 1
        self.rows += 1
        if self._file_rows >= self.max_rows:
            self.close()
        return len(data)

    def _open(self) -> None:
        self.files += 1
        self._path = self.directory / f"{self.prefix}-{self.files:05d}.csv"
        self._file = open(self._path, "wb", buffering=1 << 20)  # noqa: SIM115
        self._file_rows = 0

    def discard(self) -> None:
        """Remove the current, unannounced file (the export failed)."""
        if self._file is not None:
            self._file.close()
            self._path.unlink(missing_ok=True)  # type: ignore[union-attr]
            self._file, self._path = None, None

    def close(self) -> None:
        """Close the current file (synced to disk) and announce it."""
        if self._file is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        path, rows = self._path, self._file_rows
        self._file, self._path = None, None
        self.on_file(path, rows)  # type: ignore[arg-type]


@dataclass
class ExportResult:
    rows: int
    files: int
    max_value: t.Any  # the replication key's maximum in the snapshot (None: full table or no rows)


def export_table(
    dsn: str,
    export: TableExport,
    directory: Path,
    prefix: str,
    batch_size_rows: int,
    on_file: t.Callable[[Path, int], None],
) -> ExportResult:
    """Export the table's rows (the replication window, if any) from one snapshot.

    `on_file(path, rows)` is called for each finished file, in order, before the next is started.
    """
    conn = psycopg2.connect(dsn)
    try:
        conn.set_session(isolation_level=ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
        unsupported = unsupported_columns(conn, export)
        if unsupported:
            raise UnsupportedColumnsError(unsupported)
        with conn.cursor() as cur:
            # COPY writes values in their text form under these settings: timestamptz in UTC as
            # `2026-01-01 10:00:00.123+00`, dates as ISO `2026-01-01`, floats round-trippable.
            cur.execute("set local timezone = 'UTC'")
            cur.execute("set local datestyle = 'ISO, YMD'")
            cur.execute("set local intervalstyle = 'postgres'")
            cur.execute("set local extra_float_digits = 3")

            where: list[sql.Composable] = [sql.SQL(f"({clause})") for clause in export.where_clauses]
            max_value = None
            if export.replication_key:
                key = sql.Identifier(export.replication_key)
                cur.execute(sql.SQL("select max({}) from {}").format(key, export.relation))
                max_value = cur.fetchone()[0]
                # First run (no bookmark): every row, as the record path reads it. Otherwise the
                # window [bookmark, max]; with no key values at all (max null) it is empty.
                if export.start_value is not None:
                    where.append(sql.SQL("{} >= {}").format(key, sql.Literal(export.start_value)))
                    where.append(sql.SQL("{} <= {}").format(key, sql.Literal(max_value)))

            select = sql.SQL("select {} from {}").format(
                sql.SQL(", ").join(
                    sql.SQL("to_json({})").format(sql.Identifier(c)) if c in export.json_columns else sql.Identifier(c)
                    for c in export.columns
                ),
                export.relation,
            )
            if where:
                select = sql.SQL("{} where {}").format(select, sql.SQL(" and ").join(where))
            copy = sql.SQL("copy ({}) to stdout with (format csv)").format(select)

            sink = _RotatingFiles(directory, prefix, batch_size_rows, on_file)
            try:
                cur.copy_expert(copy.as_string(conn), sink)
            except BaseException:
                sink.discard()
                raise
            sink.close()
        conn.rollback()
        return ExportResult(rows=sink.rows, files=sink.files, max_value=max_value)
    finally:
        conn.close()


# --- Parquet ---------------------------------------------------------------------------------------
def parquet_refusal(dsn: str, export: TableExport, min_rows: int) -> str | None:
    """Why the stream is exported as CSV instead of Parquet, or None: a column Parquet does not carry
    exactly, or fewer rows than `min_rows` as the planner expects them (starting DuckDB and its
    scanner then costs more than binary values save)."""
    if export.where_clauses:
        return "custom_where_clauses are Postgres SQL, which the Parquet export does not run"
    conn = psycopg2.connect(dsn)
    try:
        types = _column_types(conn, export)
        expected = _expected_rows(conn, export, min_rows) if min_rows > 0 else 0
    finally:
        conn.close()
    refused = {}
    export.decimal_columns.clear()
    for column in export.columns:
        type_name, typtype, precision = types.get(column, ("(missing)", "", None))
        if typtype == "e" or type_name in PARQUET_TYPES:
            continue
        if type_name == "numeric" and precision is not None and precision <= MAX_PARQUET_DECIMAL_PRECISION:
            export.decimal_columns.append(column)
            continue
        refused[column] = f"numeric({precision})" if type_name == "numeric" and precision else type_name
    if refused:
        return "column types Parquet does not carry exactly: " + ", ".join(f"{c} ({t})" for c, t in refused.items())
    if expected < min_rows:
        return f"{expected:,} rows to export, fewer than parquet_min_rows ({min_rows:,}): CSV starts faster"
    return None


def _expected_rows(conn, export: TableExport, min_rows: int) -> int:
    """The rows to export, as far as the choice of format needs them: the planner's estimate, and for a
    window (a bookmark) estimated at `min_rows` or more, its rows counted up to `min_rows` (by an index
    on the key, where there is one: the planner guesses a third of the table for a range it has no
    statistics for)."""
    query = sql.SQL("select 1 from {}").format(export.relation)
    params: tuple = ()
    if export.replication_key and export.start_value is not None:
        query = sql.SQL("{} where {} >= %s").format(query, sql.Identifier(export.replication_key))
        params = (export.start_value,)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("explain (format json) {}").format(query), params)
        plan = cur.fetchone()[0]
        estimate = int((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])
        if not params or estimate < min_rows:
            return estimate
        cur.execute(sql.SQL("select count(*) from ({} limit %s) as w").format(query), (*params, min_rows))
        return int(cur.fetchone()[0])


class ParquetRefusal(Exception):
    """The rows hold a value Parquet cannot carry exactly: the stream is exported as CSV instead."""


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duckdb(duckdb: t.Any) -> t.Any:
    """An in-memory DuckDB with the Postgres scanner, bounded as the job bounds DuckDB. As the loader
    does: the extension comes from BATON_DUCKDB_EXTENSION_DIR (the jobs image installs it there),
    else it is installed from its PyPI wheel's file, never from the network; BATON_DUCKDB_MEMORY_LIMIT,
    _THREADS and _TEMP_DIR apply where set."""
    config: dict[str, t.Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    for setting, variable in (
        ("extension_directory", "BATON_DUCKDB_EXTENSION_DIR"),
        ("memory_limit", "BATON_DUCKDB_MEMORY_LIMIT"),
        ("threads", "BATON_DUCKDB_THREADS"),
        ("temp_directory", "BATON_DUCKDB_TEMP_DIR"),
    ):
        if os.environ.get(variable):
            config[setting] = os.environ[variable]
    conn = duckdb.connect(config=config)
    installed = conn.execute(
        "select installed from duckdb_extensions() where extension_name = 'postgres_scanner'"
    ).fetchone()
    if not (installed and installed[0]):
        import duckdb_extension_postgres

        folder = Path(duckdb_extension_postgres.__file__).parent / "extensions" / f"v{duckdb.__version__}"
        found = sorted(folder.glob("*.duckdb_extension"))
        if not found:
            raise RuntimeError(
                f"duckdb-extension-postgres has no extension for duckdb {duckdb.__version__} under {folder}: "
                "pin both to the same version (packages/tap-baton-postgres/pyproject.toml)"
            )
        conn.execute(f"install {_quote(str(found[0]))}")
    conn.execute("load postgres")
    conn.execute("set TimeZone = 'UTC'")
    conn.execute("set preserve_insertion_order = false")
    conn.execute("set pg_experimental_filter_pushdown = true")
    return conn


def export_parquet(
    dsn: str, export: TableExport, directory: Path, prefix: str, batch_size_rows: int
) -> tuple[ExportResult, list[tuple[Path, int]]]:
    """Export the table's rows (rows at or after the bookmark, if any) from one snapshot into
    Parquet files of about `batch_size_rows` rows: the result and the files with their row counts,
    in order. The replication key's maximum is read from the files, so it covers exactly their rows."""
    import duckdb

    out = directory / prefix
    conn = _duckdb(duckdb)
    try:
        conn.execute(f"attach {_quote(dsn)} as source (type postgres, read_only)")
        # One DuckDB transaction is one REPEATABLE READ transaction in Postgres: the NaN check below
        # and the export (whose parallel connections share its exported snapshot) see the same rows.
        conn.begin()
        relation = f"source.{_ident(export.schema)}.{_ident(export.table)}"
        select = f"select {', '.join(_ident(c) for c in export.columns)} from {relation}"
        window = ""
        if export.replication_key and export.start_value is not None:
            window = f"{_ident(export.replication_key)} >= {_quote(str(export.start_value))}"
            select += f" where {window}"
            # One query, so that Postgres can read the window by an index on the key: the parallel
            # scan by ranges of pages would read the whole table.
            conn.execute("set pg_use_ctid_scan = false")
        if export.decimal_columns:
            # Postgres allows NaN in numeric(p,s), DuckDB's DECIMAL has none: its scanner reads it as
            # 0. Such rows go by CSV, where the loader's non-finite rule applies.
            nan = " or ".join(f"{_ident(c)} = 'NaN'" for c in export.decimal_columns)
            query = (
                f"select count(*) from {_ident(export.schema)}.{_ident(export.table)} "
                f"where ({nan}){f' and {window}' if window else ''}"
            )
            (found,) = conn.execute("select * from postgres_query('source', ?)", [query]).fetchone()
            if found:
                raise ParquetRefusal(
                    f"{found} row(s) hold NaN in a numeric column ({', '.join(export.decimal_columns)}), which "
                    "Parquet's DECIMAL cannot carry"
                )
        row_group = max(1, min(batch_size_rows, 122_880))
        # Uncompressed: the files live for one run on local disk; compressing them cost the extractor
        # and the loader more than the writes it saves.
        options = (
            f"format parquet, compression uncompressed, row_group_size {row_group}, "
            f"row_groups_per_file {max(1, batch_size_rows // row_group)}, filename_pattern 'part-{{i}}'"
        )
        try:
            (rows,) = conn.execute(f"copy ({select}) to {_quote(str(out))} ({options})").fetchone()
        except BaseException:
            for leftover in out.glob("*.parquet"):
                leftover.unlink(missing_ok=True)
            raise
        files = sorted(out.glob("part-*.parquet"), key=lambda p: int(p.stem.removeprefix("part-")))
        counted = conn.execute(
            f"select file_name, sum(num_rows) from parquet_file_metadata({_quote(str(out / 'part-*.parquet'))}) "
            "group by file_name"
        ).fetchall()
        per_file = {Path(name): int(n) for name, n in counted}
        max_value = None
        if export.replication_key and rows:
            key = _ident(export.replication_key)
            files_sql = f"read_parquet({_quote(str(out / 'part-*.parquet'))})"
            (key_type,) = conn.execute(f"select typeof({key}) from {files_sql} limit 1").fetchone()
            # A timestamptz as a naive UTC datetime: DuckDB's tz-aware values need pytz; the SDK
            # writes naive datetimes as UTC, so the bookmark reads as the record path's.
            expr = f"max({key})::TIMESTAMP" if key_type == "TIMESTAMP WITH TIME ZONE" else f"max({key})"
            (max_value,) = conn.execute(f"select {expr} from {files_sql}").fetchone()
        conn.rollback()
        return ExportResult(rows=int(rows), files=len(files), max_value=max_value), [
            (f, per_file.get(f, 0)) for f in files
        ]
    finally:
        conn.close()
