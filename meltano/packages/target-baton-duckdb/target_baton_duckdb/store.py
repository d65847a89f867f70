"""The DuckDB side: one connection per run, tables and their evolution, staged batches merged.

Every batch (a drained set of RECORD messages, or one BATCH message's files) goes the same way:

1. staged into a temp table `_baton_stage` with DuckDB's readers and explicit columns: nothing is
   sniffed. Number columns are staged as text (the checks below need the text as sent); from CSV
   files, columns whose reader is exact (timestamps, dates, booleans, uuid, JSON, text) are read
   with their declared type at once. If that typed read fails, the batch is staged as text again
   and the failing value is named (step 3);
2. checked in one scan: NaN/Infinity in number columns, fractions in integer columns, more decimals
   than a DECIMAL's scale; a hit names the stream, the column, the key and the value;
3. in ONE transaction, cast to the declared types (a value that does not cast fails, named) and
   written, then the stream's catalogue row touched. Committed before the target writes the STATE
   that covers it. How a batch is written depends on the stream:

   - with key properties: deduplicated by key (the last row wins; a batch whose keys are all
     distinct, as a table's primary key makes them, skips that step). Into an empty table it is a
     plain insert. Otherwise rows whose key is in the table with different values are deleted, and
     the batch's rows that are not in the table as they are (new keys, changed rows) inserted:
     an unchanged row re-read at an inclusive bookmark is not rewritten;
   - without key properties, INCREMENTAL (a replication key): the run's first batch deletes the
     re-read window, the rows whose replication key is >= the bookmark the run started from (every
     row when it started without one), in the transaction that inserts it. The extractor re-reads
     exactly that window, so the rows at the bookmark are replaced, not appended, and exact
     duplicate rows of the source stay as many as they are. A run killed after some batches
     resumes from the last STATE written, whose bookmark only covers committed rows: its window
     again holds only rows that run re-reads;
   - without key properties, FULL_TABLE (no replication key): the batches of the run go to a temp
     table of the run, and at the end of the run, before the final STATE is written, ONE
     transaction replaces the table's rows with it (`replace_table`). Readers see the old table or
     the new one, never a part; a run killed before the end leaves the old table whole. The end
     of the run is the end of the loader's input: a Singer stream does not say that a FULL_TABLE
     read is complete, and an extractor that fails mid-read also ends the input (Meltano then
     fails the run, and the next run replaces the table again).
"""

from __future__ import annotations

import json
import logging
import typing as t
from dataclasses import dataclass, field

import duckdb

from target_baton_duckdb import warehouse
from target_baton_duckdb.sqltypes import JSON, VARCHAR, SqlType, is_widening, parse_duckdb_type

STAGE = "_baton_stage"
TYPED = "_baton_typed"
# Types DuckDB's CSV reader converts exactly as a cast does (numbers are not among them: the reader
# rounds `1.5` into an integer column and `1.005` into DECIMAL(12,2) without a word).
CSV_TYPED = frozenset({"TIMESTAMPTZ", "TIMESTAMP", "DATE", "TIME", "BOOLEAN", "UUID", "JSON", "VARCHAR"})
INTEGERS = frozenset({"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT"})
# Metadata columns that say when and how a row was loaded, not what it holds: a row whose other
# values are unchanged is not rewritten for them (it keeps the moment it was first loaded).
LOAD_METADATA = frozenset(
    {"_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at", "_sdc_sequence", "_sdc_table_version"}
)
NON_FINITE = ("nan", "+nan", "-nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf")
CATALOGUE_DDL = """
create schema if not exists _baton;
create table if not exists _baton.streams (
    stream VARCHAR,
    table_schema VARCHAR,
    table_name VARCHAR,
    key_properties VARCHAR[],
    replication_key VARCHAR,
    columns JSON,
    loaded_at TIMESTAMPTZ
);
alter table _baton.streams add column if not exists declared JSON;
"""


class LoaderError(Exception):
    """A load that cannot go on; the message says what failed, where, and what to do."""


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def files(paths: str | list[str]) -> str:
    """One path, or a list of paths read in order, as a SQL literal."""
    if isinstance(paths, str):
        return literal(paths)
    return "[" + ", ".join(literal(p) for p in paths) + "]"


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


class Store:
    """The run's one DuckDB connection (DuckDB allows one writing process per file)."""

    def __init__(self, path: str, logger: logging.Logger):
        self.path = path
        self.logger = logger
        try:
            # The file at `path`, or (BATON_WAREHOUSE=lake) the DuckLake named by its stem (warehouse.py).
            self.conn = warehouse.connect_path(path)
        except warehouse.WarehouseError as exc:
            raise LoaderError(str(exc)) from exc
        except duckdb.IOException as exc:
            raise LoaderError(
                f"cannot open the DuckDB file {path} for writing: {exc}. One process writes a DuckDB file at a "
                "time: wait for the other load (or dbt run) holding it, then run again."
            ) from exc
        self.conn.execute("set TimeZone = 'UTC'")
        self.conn.execute(CATALOGUE_DDL)

    def close(self) -> None:
        self.conn.close()

    # --- tables ---------------------------------------------------------------------------------
    def existing_columns(self, spec: TableSpec) -> dict[str, SqlType]:
        rows = self.conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [spec.schema, spec.table],
        ).fetchall()
        return {name: parse_duckdb_type(data_type) for name, data_type in rows}

    def ensure_table(self, spec: TableSpec) -> list[SchemaChange]:
        """Create the table, or evolve it to the stream's schema: new columns added, safe widenings
        ALTERed, anything else refused. Records the stream in `_baton.streams`.

        Returns the changes a data engineer must hear of, each logged once here as a warning: a
        column the source no longer declares (it stays in the table; new rows get NULL in it), a
        column whose type widened, a column added to an existing table."""
        changes: list[SchemaChange] = []
        self.conn.begin()
        try:
            self.conn.execute(f"create schema if not exists {ident(spec.schema)}")
            existing = self.existing_columns(spec)
            if not existing:
                columns = ", ".join(f"{ident(c)} {sql_type}" for c, sql_type in spec.columns.items())
                self.conn.execute(f"create table {spec.qualified} ({columns})")
                self.logger.info("Created table %s for stream '%s'", spec.label, spec.stream)
            else:
                for column, wanted in spec.columns.items():
                    have = existing.get(column)
                    if have is None:
                        self.conn.execute(f"alter table {spec.qualified} add column {ident(column)} {wanted}")
                        self.logger.info("Added column %s %s to %s", column, wanted, spec.label)
                        changes.append(SchemaChange(spec.stream, spec.label, column, "added", None, str(wanted)))
                    elif have == wanted or is_widening(wanted, have):
                        continue  # the column already holds every value of the declared type exactly
                    elif is_widening(have, wanted):
                        self.conn.execute(
                            f"alter table {spec.qualified} alter column {ident(column)} set data type {wanted}"
                        )
                        self.logger.warning(
                            "Schema change in stream '%s': column '%s' widened from %s to %s (table %s ALTERed; "
                            "every value kept exactly)",
                            spec.stream,
                            column,
                            have,
                            wanted,
                            spec.label,
                        )
                        changes.append(SchemaChange(spec.stream, spec.label, column, "widened", str(have), str(wanted)))
                    else:
                        raise LoaderError(
                            f"cannot change the type of column '{column}' of table {spec.label} (stream "
                            f"'{spec.stream}') from {have} to {wanted}: refusing to narrow or reinterpret it "
                            "(no silent cast). Make the source declare a type that widens the column, or move "
                            "the table aside (rename or drop it) and reset the stream's bookmark to reload it."
                        )
                changes += self._dropped_columns(spec, existing)
            spec.table_types = self.existing_columns(spec)
            values = [
                spec.schema,
                spec.table,
                spec.keys,
                json.dumps({c: str(sql_type) for c, sql_type in spec.table_types.items()}),
                json.dumps({c: str(sql_type) for c, sql_type in spec.columns.items()}),
                spec.stream,
            ]
            (known,) = self.conn.execute(
                "select count(*) from _baton.streams where stream = ?", [spec.stream]
            ).fetchone()
            if known:
                self.conn.execute(
                    "update _baton.streams set table_schema = ?, table_name = ?, key_properties = ?, columns = ?, "
                    "declared = ? where stream = ?",
                    values,
                )
            else:
                self.conn.execute(
                    "insert into _baton.streams (table_schema, table_name, key_properties, columns, declared, stream) "
                    "values (?, ?, ?, ?, ?, ?)",
                    values,
                )
            if spec.replication_key:
                self.set_replication_key(spec.stream, spec.replication_key)
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        return changes

    def _dropped_columns(self, spec: TableSpec, existing: dict[str, SqlType]) -> list[SchemaChange]:
        """Columns of the table that the stream's schema no longer declares, announced once: those
        the previous run declared (or, before the catalogue kept declarations, the table holds)."""
        row = self.conn.execute("select declared from _baton.streams where stream = ?", [spec.stream]).fetchone()
        before = json.loads(row[0]) if row and row[0] else {c: str(t) for c, t in existing.items()}
        changes = []
        for column in before:
            if column in spec.columns or column not in existing:
                continue
            self.logger.warning(
                "Schema change in stream '%s': column '%s' (%s) is no longer in the source's schema. It stays in "
                "table %s and rows loaded from now on have NULL in it. If the column was dropped at the source on "
                "purpose, update the models that read it; otherwise restore it at the source.",
                spec.stream,
                column,
                existing[column],
                spec.label,
            )
            changes.append(SchemaChange(spec.stream, spec.label, column, "dropped", str(existing[column]), None))
        return changes

    def set_replication_key(self, stream: str, column: str) -> None:
        self.conn.execute(
            "update _baton.streams set replication_key = ? where stream = ? and replication_key is distinct from ?",
            [column, stream, column],
        )

    # --- staging --------------------------------------------------------------------------------
    def _stage_columns(self, spec: TableSpec, names: t.Iterable[str]) -> str:
        """A DuckDB `columns` struct literal: text for every column, JSON for JSON columns."""
        parts = [f"{literal(c)}: {literal('JSON' if spec.columns.get(c) == JSON else 'VARCHAR')}" for c in names]
        return "{" + ", ".join(parts) + "}"

    def stage_jsonl(self, spec: TableSpec, path: str | list[str], compression: str, names: list[str]) -> None:
        if compression == "none":
            compression = "uncompressed"  # duckdb 1.5's read_json knows no 'none' (its read_csv does)
        self.conn.execute(
            f"create or replace temp table {STAGE} as select * from read_json({files(path)}, "
            f"format = 'newline_delimited', columns = {self._stage_columns(spec, names)}, "
            f"compression = {literal(compression)}, auto_detect = false, maximum_object_size = 268435456)"
        )

    def stage_csv(self, spec: TableSpec, path: str | list[str], compression: str, names: list[str]) -> None:
        """Postgres `COPY ... TO STDOUT WITH (FORMAT csv)` output: no header, `names` in order,
        unquoted empty = NULL, quoted empty = empty string. Columns of an exactly read type are read
        typed (see the module doc); if a value does not convert, the batch is staged as text and
        the merge names the value."""
        options = (
            "header = false, auto_detect = false, delim = ',', quote = '\"', escape = '\"', nullstr = '', "
            f"allow_quoted_nulls = false, compression = {literal(compression)}, strict_mode = true, "
            # A line may be as long as 256 MiB; the read buffer is that size too (DuckDB's default,
            # 16 lines' worth, would ask for 4 GiB, more than a memory-bounded job has).
            "max_line_size = 268435456, buffer_size = 268435456"
        )

        def read(typed: bool) -> None:
            types = {}
            for c in names:
                declared = spec.table_types.get(c) or spec.columns.get(c) or VARCHAR
                types[c] = str(declared) if typed and declared.name in CSV_TYPED else "VARCHAR"
            columns = "{" + ", ".join(f"{literal(c)}: {literal(sql_type)}" for c, sql_type in types.items()) + "}"
            self.conn.execute(
                f"create or replace temp table {STAGE} as select * from read_csv({files(path)}, "
                f"columns = {columns}, {options})"
            )

        try:
            read(typed=True)
        except duckdb.ConversionException:
            read(typed=False)

    def stage_parquet(self, spec: TableSpec, path: str | list[str]) -> list[str]:
        """Parquet carries its own column types: the schema's columns are taken by name, as text
        (JSON columns as JSON); columns the file lacks are left out."""
        described = self.conn.execute(f"describe select * from read_parquet({files(path)})").fetchall()
        file_types = {name.lower(): (name, data_type) for name, data_type, *_ in described}
        selects, names = [], []
        for column, sql_type in spec.columns.items():
            if column not in file_types:
                continue
            source, data_type = file_types[column]
            if sql_type == JSON:
                expr = ident(source) if parse_duckdb_type(data_type) in (VARCHAR, JSON) else f"to_json({ident(source)})"
                selects.append(f"{expr}::JSON as {ident(column)}")
            else:
                selects.append(f"{ident(source)}::VARCHAR as {ident(column)}")
            names.append(column)
        if not selects:
            raise LoaderError(f"{path} holds none of the columns of stream '{spec.stream}' ({', '.join(spec.columns)})")
        self.conn.execute(
            f"create or replace temp table {STAGE} as select {', '.join(selects)} from read_parquet({files(path)})"
        )
        return names

    # --- checks ---------------------------------------------------------------------------------
    def _text_columns(self, staged: list[str]) -> set[str]:
        rows = self.conn.execute(f"describe {STAGE}").fetchall()
        return {name for name, data_type, *_ in rows if data_type == "VARCHAR" and name in staged}

    def _check_conditions(self, spec: TableSpec, staged: list[str]) -> dict[str, str]:
        """Per check (`nonfinite:<column>`, `exact:<column>`), a cheap SQL condition that every
        bad value meets (a prefilter: a hit runs the exact check, which may find nothing). DuckDB
        evaluates both sides of an AND inside `count(*) filter (...)`, so the expensive part
        (casts, regexp_extract) is left to the exact checks: a batch without a bad value is
        scanned once, quickly."""
        text = self._text_columns(staged)
        conditions = {}
        for column in staged:
            if column not in text:
                continue  # read typed: not a number column
            col = ident(column)
            declared = spec.columns.get(column)
            if declared is not None and declared.is_number:
                conditions[f"nonfinite:{column}"] = f"{col} ilike '%n%'"  # nan, inf, infinity
            sql_type = spec.table_types.get(column) or declared
            if sql_type is None:
                continue
            if sql_type.name in INTEGERS:
                conditions[f"exact:{column}"] = f"regexp_matches({col}, '[.eE]')"
            elif sql_type.name == "DECIMAL":
                conditions[f"exact:{column}"] = f"{col} like '%.{'_' * ((sql_type.scale or 0) + 1)}%'"
        return conditions

    def check_values(self, spec: TableSpec, staged: list[str], source: str, mode: str) -> None:
        """Every value check of the batch in one scan; the detailed checks run only on a hit."""
        conditions = self._check_conditions(spec, staged)
        if not conditions:
            return
        counts = self.conn.execute(
            "select " + ", ".join(f"count(*) filter (where {c})" for c in conditions.values()) + f" from {STAGE}"
        ).fetchone()
        hits = {name for name, count in zip(conditions, counts, strict=True) if count}
        if any(h.startswith("nonfinite:") for h in hits):
            self.check_non_finite(spec, staged, source, mode)
        if any(h.startswith("exact:") for h in hits):
            self.check_exactness(spec, staged, source)

    def _key_text(self, spec: TableSpec, staged: list[str]) -> str:
        keys = [k for k in spec.keys if k in staged]
        if not keys:
            return "'(row ' || (rowid + 1)::VARCHAR || ' of the batch)'"
        return " || ', ' || ".join(f"{literal(k + '=')} || coalesce({ident(k)}::VARCHAR, 'NULL')" for k in keys)

    def check_non_finite(self, spec: TableSpec, staged: list[str], source: str, mode: str) -> None:
        """NaN / Infinity in number columns: fail naming them, or (mode `null`) set them NULL."""
        listed = ", ".join(literal(v) for v in NON_FINITE)
        for column in staged:
            sql_type = spec.columns.get(column)
            if sql_type is None or not sql_type.is_number:
                continue
            condition = f"lower(trim({ident(column)})) in ({listed})"
            found = self.conn.execute(
                f"select {self._key_text(spec, staged)}, {ident(column)}, count(*) over () "
                f"from {STAGE} where {condition} limit 5"
            ).fetchall()
            if not found:
                continue
            total = found[0][2]
            examples = "; ".join(f"{key}: {value}" for key, value, _ in found)
            where = f"column '{column}' of stream '{spec.stream}' (table {spec.label}{source})"
            if mode == "null":
                self.conn.execute(f"update {STAGE} set {ident(column)} = NULL where {condition}")
                self.logger.warning(
                    "non-finite number loaded as NULL (non_finite_numbers: null): %d value(s) in %s: %s",
                    total,
                    where,
                    examples,
                )
                continue
            raise LoaderError(
                f"non-finite number in {where}: {total} value(s), {examples}. DuckDB columns of this stream "
                "hold finite numbers only; nothing of this batch was written. Fix the value at the source, "
                "or set the loader's non_finite_numbers: null to load such values as NULL."
            )

    def check_exactness(self, spec: TableSpec, staged: list[str], source: str) -> None:
        """Values a cast would round: fractions in integer columns, decimals beyond a DECIMAL's scale."""
        for column in staged:
            sql_type = spec.table_types.get(column) or spec.columns.get(column)
            col = ident(column)
            if sql_type is None:
                continue
            if sql_type.name in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT"):
                condition = f"try_cast({col} as DECIMAL(38,9)) % 1 <> 0"
                what = f"a fraction, but the column is {sql_type}"
            elif sql_type.name == "DECIMAL":
                condition = (
                    f"not regexp_matches({col}, '[eE]') and "
                    f"length(rtrim(regexp_extract({col}, '\\.([0-9]*)', 1), '0')) > {sql_type.scale}"
                )
                what = f"more decimals than the column's {sql_type} keeps"
            else:
                continue
            found = self.conn.execute(
                f"select {self._key_text(spec, staged)}, {col} from {STAGE} where {col} is not null and {condition} "
                "limit 3"
            ).fetchall()
            if found:
                examples = "; ".join(f"{key}: {value}" for key, value in found)
                raise LoaderError(
                    f"value would be rounded in column '{column}' of stream '{spec.stream}' (table {spec.label}"
                    f"{source}): {what} ({examples}). Nothing of this batch was written. Declare the column's "
                    "precision in the source's schema (x-sql-datatype: decimal(p,s)) or fix the value."
                )

    def _diagnose_cast(self, spec: TableSpec, staged: list[str], source: str, exc: Exception) -> LoaderError:
        for column in staged:
            sql_type = spec.table_types.get(column) or spec.columns.get(column)
            if sql_type is None or sql_type in (VARCHAR, JSON):
                continue
            found = self.conn.execute(
                f"select {self._key_text(spec, staged)}, {ident(column)} from {STAGE} "
                f"where {ident(column)} is not null and try_cast({ident(column)} as {sql_type}) is null limit 1"
            ).fetchone()
            if found:
                return LoaderError(
                    f"value {found[1]!r} of column '{column}' of stream '{spec.stream}' (table {spec.label}{source}, "
                    f"{found[0]}) does not convert to {sql_type}: {exc}. Nothing of this batch was written. The "
                    "source sent a value its schema does not declare: fix the value or the declared type."
                )
        return LoaderError(
            f"loading a batch of stream '{spec.stream}' into {spec.label}{source} failed: {exc}. Nothing of this "
            "batch was written."
        )

    # --- merge ----------------------------------------------------------------------------------
    def _typed_select(self, spec: TableSpec, staged: list[str], constants: dict[str, t.Any]) -> tuple[str, list]:
        exprs, params = [], []
        for column, declared in spec.columns.items():
            sql_type = spec.table_types.get(column, declared)
            if column in staged:
                exprs.append(f"cast({ident(column)} as {sql_type}) as {ident(column)}")
            elif column in constants:
                exprs.append(f"cast(? as {sql_type}) as {ident(column)}")
                params.append(constants[column])
            else:
                exprs.append(f"cast(null as {sql_type}) as {ident(column)}")
        return ", ".join(exprs), params

    def _is_empty(self, table: str) -> bool:
        return self.conn.execute(f"select count(*) from (select 1 from {table} limit 1)").fetchone()[0] == 0

    def merge(
        self,
        spec: TableSpec,
        staged: list[str],
        *,
        source: str = "",
        non_finite: str = "fail",
        constants: dict[str, t.Any] | None = None,
        into: str | None = None,
        window: tuple[str, t.Any] | None = None,
    ) -> MergeResult:
        """Write the staged batch in one transaction (see the module doc).

        `constants`: values for columns the stage lacks (metadata columns of BATCH files).
        `into`: a stream without keys, FULL_TABLE: the run's temp table that `replace_table` swaps in.
        `window`: a stream without keys, INCREMENTAL, first batch of the run: (replication key column,
        the run's starting bookmark) — rows with key >= it are deleted first; (column, None) deletes
        every row (a run without a bookmark reads the whole table).
        """
        constants = constants or {}
        self.conn.begin()
        in_transaction = True
        try:
            self.check_values(spec, staged, source, non_finite)
            select, params = self._typed_select(spec, staged, constants)
            (rows,) = self.conn.execute(f"select count(*) from {STAGE}").fetchone()
            try:
                if spec.keys:
                    result = self._upsert(spec, select, params, int(rows))
                else:
                    result = self._append(spec, select, params, int(rows), into, window)
            except duckdb.Error as exc:
                self.conn.rollback()  # a failed statement aborts the transaction: diagnose outside it
                in_transaction = False
                raise self._diagnose_cast(spec, staged, source, exc) from exc
            self.conn.execute("update _baton.streams set loaded_at = now() where stream = ?", [spec.stream])
            self.conn.commit()
            in_transaction = False
        except BaseException:
            if in_transaction:
                self.conn.rollback()
            raise
        finally:
            self.conn.execute(f"drop table if exists {TYPED}")
            self.conn.execute(f"drop table if exists {STAGE}")
        return result

    def _upsert(self, spec: TableSpec, select: str, params: list, rows: int) -> MergeResult:
        """By key, the last row of the batch wins; unchanged rows are left as they are."""
        keys = ", ".join(ident(k) for k in spec.keys)
        columns = ", ".join(ident(c) for c in spec.columns)
        self.conn.execute(f"create or replace temp table {TYPED} as select {select} from {STAGE}", params)
        (batch, distinct) = self.conn.execute(f"select count(*), count(distinct ({keys})) from {TYPED}").fetchone()
        if distinct != batch:  # a key more than once (or a NULL key): deduplicated, the last row wins
            dedupe = f" qualify row_number() over (partition by {keys} order by _baton_row desc) = 1"
            self.conn.execute(
                f"create or replace temp table {TYPED} as select * exclude (_baton_row) from "
                f"(select {select}, rowid as _baton_row from {STAGE}){dedupe}",
                params,
            )
            (batch,) = self.conn.execute(f"select count(*) from {TYPED}").fetchone()
        if self._is_empty(spec.qualified):
            self.conn.execute(f"insert into {spec.qualified} ({columns}) select {columns} from {TYPED}")
            return MergeResult(rows=rows, inserted=int(batch), updated=0)
        match = " and ".join(f"t.{ident(k)} is not distinct from s.{ident(k)}" for k in spec.keys)
        others = [c for c in spec.columns if c not in spec.keys and c not in LOAD_METADATA]
        differs = " or ".join(f"t.{ident(c)} is distinct from s.{ident(c)}" for c in others) or "false"
        (updated,) = self.conn.execute(
            f"delete from {spec.qualified} t using {TYPED} s where {match} and ({differs})"
        ).fetchone()
        (written,) = self.conn.execute(
            f"insert into {spec.qualified} ({columns}) select {columns} from {TYPED} s "
            f"where not exists (select 1 from {spec.qualified} t where {match})"
        ).fetchone()
        return MergeResult(
            rows=rows,
            inserted=int(written) - int(updated),
            updated=int(updated),
            unchanged=int(batch) - int(written),
        )

    def _append(
        self, spec: TableSpec, select: str, params: list, rows: int, into: str | None, window: tuple[str, t.Any] | None
    ) -> MergeResult:
        """No keys: every row of the batch is kept, exact duplicates included."""
        columns = ", ".join(ident(c) for c in spec.columns)
        deleted = 0
        if into is not None:
            self._follow_table(spec, into)
        elif window is not None:
            column, start = window
            if start is None:
                (deleted,) = self.conn.execute(f"delete from {spec.qualified}").fetchone()
            else:
                sql_type = spec.table_types.get(column) or spec.columns.get(column) or VARCHAR
                (deleted,) = self.conn.execute(
                    f"delete from {spec.qualified} where {ident(column)} >= cast(? as {sql_type})", [start]
                ).fetchone()
        (inserted,) = self.conn.execute(
            f"insert into {ident(into) if into else spec.qualified} ({columns}) select {select} from {STAGE}", params
        ).fetchone()
        return MergeResult(rows=rows, inserted=int(inserted), updated=0, deleted=int(deleted))

    # --- FULL_TABLE streams without keys ---------------------------------------------------------
    def _follow_table(self, spec: TableSpec, into: str) -> None:
        """The run's temp table of a FULL_TABLE stream: created like the table, and following its
        evolution (a new SCHEMA message in the run may add or widen columns)."""
        exists = self.conn.execute(
            "select count(*) from duckdb_tables() where temporary and table_name = ?", [into]
        ).fetchone()[0]
        if not exists:
            self.conn.execute(f"create temp table {ident(into)} as select * from {spec.qualified} limit 0")
            return
        have = {
            name: parse_duckdb_type(data_type)
            for name, data_type in self.conn.execute(
                "select column_name, data_type from duckdb_columns() where database_name = 'temp' and table_name = ?",
                [into],
            ).fetchall()
        }
        for column, sql_type in spec.table_types.items():
            if column not in have:
                self.conn.execute(f"alter table {ident(into)} add column {ident(column)} {sql_type}")
            elif have[column] != sql_type:
                self.conn.execute(f"alter table {ident(into)} alter column {ident(column)} set data type {sql_type}")

    def replace_table(self, spec: TableSpec, into: str | None) -> tuple[int, int]:
        """Replace the table's rows with the run's temp table (none: the run read no row), in one
        transaction. Returns (rows removed, rows now in the table)."""
        columns = ", ".join(ident(c) for c in spec.table_types or spec.columns)
        self.conn.begin()
        try:
            (deleted,) = self.conn.execute(f"delete from {spec.qualified}").fetchone()
            inserted = 0
            if into is not None:
                (inserted,) = self.conn.execute(
                    f"insert into {spec.qualified} ({columns}) select {columns} from {ident(into)}"
                ).fetchone()
            self.conn.execute("update _baton.streams set loaded_at = now() where stream = ?", [spec.stream])
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        if into is not None:
            self.conn.execute(f"drop table if exists {ident(into)}")
        return int(deleted), int(inserted)
