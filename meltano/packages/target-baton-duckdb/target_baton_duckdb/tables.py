"""What a batch lands in: a stream's table and how it is written, and the outcome.

Shared by the parts of the run's Store (store.py): staging, value checks, schema evolution, merging.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import duckdb

from target_baton_duckdb.quoting import ident
from target_baton_duckdb.sqltypes import SqlType

STAGE = "_baton_stage"
TYPED = "_baton_typed"


class LoaderError(Exception):
    """A load that cannot go on; the message says what failed, where, and what to do."""


@dataclass
class TableSpec:
    """Where one stream lands and how."""

    stream: str
    schema: str
    table: str
    columns: dict[str, SqlType]  # column -> declared type, in schema order
    keys: list[str]
    replication_key: str | None = None
    table_types: dict[str, SqlType] = field(default_factory=dict)  # the table's types after evolution

    @property
    def qualified(self) -> str:
        return f"{ident(self.schema)}.{ident(self.table)}"

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass
class MergeResult:
    rows: int  # staged rows (before deduplication)
    inserted: int  # keys new to the table (all rows for a stream without keys)
    updated: int  # rows replaced by key, their values changed
    unchanged: int = 0  # rows the table already held as they are (not rewritten)
    deleted: int = 0  # rows of a stream without keys removed: its re-read window, or the old table


@dataclass
class SchemaChange:
    """A change of a stream's schema that the table cannot follow silently."""

    stream: str
    table: str
    column: str
    change: str  # dropped | widened | added
    before: str | None = None
    after: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "stream": self.stream,
            "table": self.table,
            "column": self.column,
            "change": self.change,
            "from": self.before,
            "to": self.after,
        }


class StorePart:
    """One part of the run's Store: they share its one DuckDB connection and its logger."""

    conn: duckdb.DuckDBPyConnection
    logger: logging.Logger
    # The stage is a view over a batch's Parquet files (read as they are needed) or a temp table.
    stage_is_view: bool = False

    def drop_stage(self) -> None:
        self.conn.execute(f"drop {'view' if self.stage_is_view else 'table'} if exists {STAGE}")
        self.stage_is_view = False

    def materialize_stage(self) -> None:
        """A view stage as a temp table: what needs rows in an order (`rowid`) or updates them."""
        if not self.stage_is_view:
            return
        self.conn.execute(f"create or replace temp table {STAGE}_rows as select * from {STAGE}")
        self.conn.execute(f"drop view {STAGE}")
        self.conn.execute(f"alter table {STAGE}_rows rename to {STAGE}")
        self.stage_is_view = False
