"""Bulk export of one table with Postgres `COPY ... TO STDOUT WITH (FORMAT csv)` into CSV files.

One export is one REPEATABLE READ, read-only transaction: the replication key's maximum and the
rows are read from the same snapshot, so the bookmark written afterwards covers exactly the rows
exported. The COPY output is split into files of at most `batch_size_rows` rows while it streams
(libpq hands over one CSV row per CopyData message, so a file never ends inside a row, even one
holding a quoted newline); each file is announced as soon as it is closed, so a loader can load it
while the next one is written.
"""

from __future__ import annotations

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

_COLUMN_TYPES = """
select a.attname, format_type(a.atttypid, null), t.typtype
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

    @property
    def relation(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.table)


def unsupported_columns(conn, export: TableExport) -> dict[str, str]:
    """Selected columns whose Postgres type the CSV path does not carry, with that type. Arrays
    it carries (see ARRAY_ELEMENT_TYPES) are added to `export.json_columns`."""
    with conn.cursor() as cur:
        cur.execute(_COLUMN_TYPES, (export.relation.as_string(conn),))
        types = {name: (type_name, typtype) for name, type_name, typtype in cur.fetchall()}
    result = {}
    for column in export.columns:
        type_name, typtype = types.get(column, ("(missing)", ""))
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
