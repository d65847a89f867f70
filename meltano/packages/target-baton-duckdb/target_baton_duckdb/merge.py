"""Merging a staged batch in one transaction: by key (upsert), or, for a stream without key properties,
into its re-read window (INCREMENTAL) or the run's temp table swapped in at the end (FULL_TABLE).
See store.py for the rules."""

from __future__ import annotations

import typing as t

import duckdb

from target_baton_duckdb.checks import ValueChecks
from target_baton_duckdb.quoting import ident, literal
from target_baton_duckdb.sqltypes import VARCHAR, parse_duckdb_type
from target_baton_duckdb.tables import STAGE, TYPED, MergeResult, TableSpec

# Metadata columns that say when and how a row was loaded, not what it holds: a row whose other
# values are unchanged is not rewritten for them (it keeps the moment it was first loaded).
LOAD_METADATA = frozenset(
    {"_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at", "_sdc_sequence", "_sdc_table_version"}
)


# Key types whose order DuckDB keeps per row group (zone maps) and DuckLake per data file (column
# statistics): given a batch's key range as constants, a merge reads only the row groups and files of
# the table whose keys fall in it, not every key the table holds.
RANGE_KEY_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DECIMAL", "DATE", "TIMESTAMP", "TIMESTAMPTZ", "VARCHAR"}
)


class Merging(ValueChecks):
    """Checked, cast and written: one transaction per batch; the FULL_TABLE swap in one more."""

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
        if not spec.keys:
            self.materialize_stage()  # rows without a key are named by their place in the batch (rowid)
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
            self.drop_stage()
        return result

    def _upsert(self, spec: TableSpec, select: str, params: list, rows: int) -> MergeResult:
        """By key, the last row of the batch wins; unchanged rows are left as they are. A batch none
        of whose keys the table holds (a first load, new rows only) is a plain insert, streamed from
        the stage: nothing to compare, delete or copy."""
        keys = ", ".join(ident(k) for k in spec.keys)
        columns = ", ".join(ident(c) for c in spec.columns)
        key_types = {k: spec.table_types.get(k, spec.columns.get(k, VARCHAR)) for k in spec.keys}
        cast_keys = ", ".join(f"cast(s.{ident(k)} as {key_types[k]})" for k in spec.keys)
        (batch, distinct) = self.conn.execute(
            f"select count(*), count(distinct ({cast_keys})) from {STAGE} s"
        ).fetchone()
        in_range = self._key_range(spec, key_types)
        held = " and ".join(
            f"t.{ident(k)} is not distinct from cast(s.{ident(k)} as {key_types[k]})" for k in spec.keys
        )
        (present,) = self.conn.execute(
            f"select count(*) filter (where exists (select 1 from {spec.qualified} t where {held} and {in_range})) "
            f"from {STAGE} s"
        ).fetchone()
        if distinct == batch and present == 0:
            self.conn.execute(f"insert into {spec.qualified} ({columns}) select {select} from {STAGE}", params)
            return MergeResult(rows=rows, inserted=int(batch), updated=0)
        self.conn.execute(f"create or replace temp table {TYPED} as select {select} from {STAGE}", params)
        if distinct != batch:  # a key more than once (or a NULL key): deduplicated, the last row wins
            self.materialize_stage()  # the last row: by rowid
            dedupe = f" qualify row_number() over (partition by {keys} order by _baton_row desc) = 1"
            self.conn.execute(
                f"create or replace temp table {TYPED} as select * exclude (_baton_row) from "
                f"(select {select}, rowid as _baton_row from {STAGE}){dedupe}",
                params,
            )
            (batch,) = self.conn.execute(f"select count(*) from {TYPED}").fetchone()
        if present == 0:
            self.conn.execute(f"insert into {spec.qualified} ({columns}) select {columns} from {TYPED}")
            return MergeResult(rows=rows, inserted=int(batch), updated=0)
        match = " and ".join(f"t.{ident(k)} is not distinct from s.{ident(k)}" for k in spec.keys)
        others = [c for c in spec.columns if c not in spec.keys and c not in LOAD_METADATA]
        differs = " or ".join(f"t.{ident(c)} is distinct from s.{ident(c)}" for c in others) or "false"
        (updated,) = self.conn.execute(
            f"delete from {spec.qualified} t using {TYPED} s where {match} and {in_range} and ({differs})"
        ).fetchone()
        (written,) = self.conn.execute(
            f"insert into {spec.qualified} ({columns}) select {columns} from {TYPED} s "
            f"where not exists (select 1 from {spec.qualified} t where {match} and {in_range})"
        ).fetchone()
        return MergeResult(
            rows=rows,
            inserted=int(written) - int(updated),
            updated=int(updated),
            unchanged=int(batch) - int(written),
        )

    def _key_range(self, spec: TableSpec, key_types: dict[str, t.Any]) -> str:
        """`t.<key> between <lo> and <hi>`: the batch's smallest and largest key as constants, for a
        stream with one key column of an ordered type and no NULL key in the batch; else `true`. No
        row of the table outside that range can match a key of the batch."""
        if len(spec.keys) != 1 or key_types[spec.keys[0]].name not in RANGE_KEY_TYPES:
            return "true"
        key, sql_type = spec.keys[0], key_types[spec.keys[0]]
        cast_key = f"cast({ident(key)} as {sql_type})"
        (low, high, nulls) = self.conn.execute(
            f"select min({cast_key})::VARCHAR, max({cast_key})::VARCHAR, count(*) - count({cast_key}) from {STAGE}"
        ).fetchone()
        if low is None or nulls:
            return "true"
        return f"t.{ident(key)} between cast({literal(low)} as {sql_type}) and cast({literal(high)} as {sql_type})"

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
