"""The DuckDB side: one connection per run, tables and their evolution, staged batches merged by key.

Every batch (a drained set of RECORD messages, or one BATCH message's files) goes the same way:

1. staged into a temp table `_baton_stage`, every column as text (JSON columns as JSON), with
   DuckDB's readers and explicit columns: nothing is sniffed;
2. checked: NaN/Infinity in number columns, fractions in integer columns, more decimals than a
   DECIMAL's scale; each check names the stream, the column, the key and the value;
3. in ONE transaction: cast to the declared types (a value that does not cast fails, named),
   deduplicated by key (the last row wins), rows with those keys deleted, the batch inserted, the
   stream's catalogue row touched. Committed before the target writes the STATE that covers it.
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
    updated: int  # rows replaced by key


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

    def ensure_table(self, spec: TableSpec) -> None:
        """Create the table, or evolve it to the stream's schema: new columns added, safe widenings
        ALTERed, anything else refused. Records the stream in `_baton.streams`."""
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
                    elif have == wanted or is_widening(wanted, have):
                        continue  # the column already holds every value of the declared type exactly
                    elif is_widening(have, wanted):
                        self.conn.execute(
                            f"alter table {spec.qualified} alter column {ident(column)} set data type {wanted}"
                        )
                        log = self.logger.warning if wanted == VARCHAR else self.logger.info
                        log("Widened column %s of %s from %s to %s", column, spec.label, have, wanted)
                    else:
                        raise LoaderError(
                            f"cannot change the type of column '{column}' of table {spec.label} (stream "
                            f"'{spec.stream}') from {have} to {wanted}: refusing to narrow or reinterpret it "
                            "(no silent cast). Make the source declare a type that widens the column, or move "
                            "the table aside (rename or drop it) and reset the stream's bookmark to reload it."
                        )
            spec.table_types = self.existing_columns(spec)
            values = [
                spec.schema,
                spec.table,
                spec.keys,
                json.dumps({c: str(sql_type) for c, sql_type in spec.table_types.items()}),
                spec.stream,
            ]
            (known,) = self.conn.execute(
                "select count(*) from _baton.streams where stream = ?", [spec.stream]
            ).fetchone()
            if known:
                self.conn.execute(
                    "update _baton.streams set table_schema = ?, table_name = ?, key_properties = ?, columns = ? "
                    "where stream = ?",
                    values,
                )
            else:
                self.conn.execute(
                    "insert into _baton.streams (table_schema, table_name, key_properties, columns, stream) "
                    "values (?, ?, ?, ?, ?)",
                    values,
                )
            if spec.replication_key:
                self.set_replication_key(spec.stream, spec.replication_key)
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise

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
        unquoted empty = NULL, quoted empty = empty string."""
        columns = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in names) + "}"
        self.conn.execute(
            f"create or replace temp table {STAGE} as select * from read_csv({files(path)}, "
            f"columns = {columns}, header = false, auto_detect = false, delim = ',', quote = '\"', "
            f"escape = '\"', nullstr = '', allow_quoted_nulls = false, compression = {literal(compression)}, "
            "strict_mode = true, max_line_size = 268435456)"
        )

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
    def merge(
        self,
        spec: TableSpec,
        staged: list[str],
        *,
        source: str = "",
        non_finite: str = "fail",
        constants: dict[str, t.Any] | None = None,
    ) -> MergeResult:
        """Merge the staged batch into the stream's table in one transaction (see the module doc).

        `constants`: values for columns the stage lacks (metadata columns of BATCH files).
        """
        constants = constants or {}
        self.conn.begin()
        in_transaction = True
        try:
            self.check_non_finite(spec, staged, source, non_finite)
            self.check_exactness(spec, staged, source)
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
            inner = f"select {', '.join(exprs)}, rowid as _baton_row from {STAGE}"
            keys = ", ".join(ident(k) for k in spec.keys)
            dedupe = f" qualify row_number() over (partition by {keys} order by _baton_row desc) = 1" if keys else ""
            try:
                self.conn.execute(
                    f"create or replace temp table {TYPED} as select * exclude (_baton_row) from ({inner}){dedupe}",
                    params,
                )
            except duckdb.Error as exc:
                self.conn.rollback()  # a failed statement aborts the transaction: diagnose outside it
                in_transaction = False
                raise self._diagnose_cast(spec, staged, source, exc) from exc
            (rows,) = self.conn.execute(f"select count(*) from {STAGE}").fetchone()
            (batch,) = self.conn.execute(f"select count(*) from {TYPED}").fetchone()
            updated = 0
            if spec.keys:
                match = " and ".join(f"t.{ident(k)} is not distinct from s.{ident(k)}" for k in spec.keys)
                (updated,) = self.conn.execute(
                    f"delete from {spec.qualified} t using {TYPED} s where {match}"
                ).fetchone()
            columns = ", ".join(ident(c) for c in spec.columns)
            self.conn.execute(f"insert into {spec.qualified} ({columns}) select {columns} from {TYPED}")
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
        return MergeResult(rows=int(rows), inserted=max(0, int(batch) - int(updated)), updated=int(updated))
