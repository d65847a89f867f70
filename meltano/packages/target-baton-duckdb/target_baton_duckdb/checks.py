"""The value checks of a staged batch, in one scan: NaN/Infinity in number columns, fractions in integer
columns, more decimals than a DECIMAL's scale; a hit names the stream, the column, the key and the value."""

from __future__ import annotations

from target_baton_duckdb.quoting import ident, literal
from target_baton_duckdb.sqltypes import JSON, VARCHAR
from target_baton_duckdb.tables import STAGE, LoaderError, StorePart, TableSpec

INTEGERS = frozenset({"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT"})
FLOATS = frozenset({"DOUBLE", "FLOAT"})
NON_FINITE = ("nan", "+nan", "-nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf")


class ValueChecks(StorePart):
    """Checks of `_baton_stage` before a merge; a value that does not cast is named after the fact."""

    def _staged_types(self, staged: list[str]) -> dict[str, str]:
        """The stage's type of each staged column: VARCHAR where the batch is checked on its text."""
        rows = self.conn.execute(f"describe {STAGE}").fetchall()
        return {name: data_type for name, data_type, *_ in rows if name in staged}

    def _non_finite(self, column: str, staged_type: str) -> str:
        """The condition a NaN or an Infinity of the staged column meets: as a number (a float column
        staged typed) or as text, in any of the spellings JSON and CSV writers use."""
        if staged_type in FLOATS:
            return f"not isfinite({ident(column)})"
        return f"lower(trim({ident(column)})) in ({', '.join(literal(v) for v in NON_FINITE)})"

    def _check_conditions(self, spec: TableSpec, staged: list[str]) -> dict[str, str]:
        """Per check (`nonfinite:<column>`, `exact:<column>`), a cheap SQL condition that every
        bad value meets (a prefilter: a hit runs the exact check, which may find nothing). DuckDB
        evaluates both sides of an AND inside `count(*) filter (...)`, so the expensive part
        (casts, regexp_extract) is left to the exact checks: a batch without a bad value is
        scanned once, quickly."""
        types = self._staged_types(staged)
        conditions = {}
        for column in staged:
            col = ident(column)
            if types.get(column) in FLOATS:
                conditions[f"nonfinite:{column}"] = self._non_finite(column, types[column])
                continue
            if types.get(column) != "VARCHAR":
                continue  # read typed: neither a number column nor a float
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
        types = self._staged_types(staged)
        for column in staged:
            sql_type = spec.columns.get(column)
            if sql_type is None or not sql_type.is_number or types.get(column) not in {"VARCHAR", *FLOATS}:
                continue  # a DECIMAL read typed holds no NaN
            condition = self._non_finite(column, types[column])
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
                self.materialize_stage()
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
