"""Staging: a batch read into the temp table `_baton_stage` with DuckDB's readers and explicit columns
(nothing is sniffed); see store.py for what happens to it next."""

from __future__ import annotations

import typing as t

import duckdb

from target_baton_duckdb.quoting import files, ident, literal
from target_baton_duckdb.sqltypes import JSON, VARCHAR, is_widening, parse_duckdb_type
from target_baton_duckdb.tables import STAGE, LoaderError, StorePart, TableSpec

# Types DuckDB's CSV reader converts exactly as a cast does (numbers are not among them: the reader
# rounds `1.5` into an integer column and `1.005` into DECIMAL(12,2) without a word).
CSV_TYPED = frozenset({"TIMESTAMPTZ", "TIMESTAMP", "DATE", "TIME", "BOOLEAN", "UUID", "JSON", "VARCHAR"})


class Staging(StorePart):
    """RECORD batches (jsonl), BATCH files (jsonl, Postgres COPY csv, parquet) into `_baton_stage`."""

    def _stage_columns(self, spec: TableSpec, names: t.Iterable[str]) -> str:
        """A DuckDB `columns` struct literal: text for every column, JSON for JSON columns."""
        parts = [f"{literal(c)}: {literal('JSON' if spec.columns.get(c) == JSON else 'VARCHAR')}" for c in names]
        return "{" + ", ".join(parts) + "}"

    def stage_jsonl(self, spec: TableSpec, path: str | list[str], compression: str, names: list[str]) -> None:
        if compression == "none":
            compression = "uncompressed"  # duckdb 1.5's read_json knows no 'none' (its read_csv does)
        self.drop_stage()
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

        self.drop_stage()
        try:
            read(typed=True)
        except duckdb.ConversionException:
            read(typed=False)

    def stage_parquet(self, spec: TableSpec, path: str | list[str]) -> list[str]:
        """Parquet carries its own column types: the schema's columns are taken by name; columns the
        file lacks are left out. A column whose file type the declared type holds exactly (the same
        type or a widening: INTEGER into BIGINT, DECIMAL(12,2) into DECIMAL(18,2), FLOAT into DOUBLE
        ...) is staged typed, so nothing is formatted and parsed again (a float column is checked for
        NaN and Infinity as a number: checks.py). A float for a column declared otherwise (an integer,
        a DECIMAL: its exactness is checked on the text) and any other column are staged as text
        (JSON columns as JSON) and checked and cast as every batch is. The stage is a view over the
        files: a batch of new keys streams from them into the table."""
        described = self.conn.execute(f"describe select * from read_parquet({files(path)})").fetchall()
        file_types = {name.lower(): (name, data_type) for name, data_type, *_ in described}
        selects, names = [], []
        for column, sql_type in spec.columns.items():
            if column not in file_types:
                continue
            source, data_type = file_types[column]
            file_type = parse_duckdb_type(data_type)
            declared = spec.table_types.get(column) or sql_type
            if sql_type == JSON:
                expr = ident(source) if file_type in (VARCHAR, JSON) else f"to_json({ident(source)})"
                selects.append(f"{expr}::JSON as {ident(column)}")
            elif is_widening(file_type, declared) and (declared.is_number_float or not file_type.is_number_float):
                selects.append(f"{ident(source)}::{declared} as {ident(column)}")
            else:
                selects.append(f"{ident(source)}::VARCHAR as {ident(column)}")
            names.append(column)
        if not selects:
            raise LoaderError(f"{path} holds none of the columns of stream '{spec.stream}' ({', '.join(spec.columns)})")
        self.drop_stage()
        self.conn.execute(f"create temp view {STAGE} as select {', '.join(selects)} from read_parquet({files(path)})")
        self.stage_is_view = True
        return names
