"""JSON Schema properties to DuckDB column types, and which type changes are safe widenings."""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

# Digits an integer type holds (its largest value's digit count).
INTEGER_DIGITS = {"TINYINT": 3, "SMALLINT": 5, "INTEGER": 10, "BIGINT": 19, "HUGEINT": 39}
MAX_DECIMAL_PRECISION = 38

_ALIASES = {
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIME WITHOUT TIME ZONE": "TIME",
    "INT1": "TINYINT",
    "INT2": "SMALLINT",
    "INT4": "INTEGER",
    "INT": "INTEGER",
    "INT8": "BIGINT",
    "LONG": "BIGINT",
    "FLOAT8": "DOUBLE",
    "FLOAT4": "FLOAT",
    "REAL": "FLOAT",
    "BOOL": "BOOLEAN",
    "TEXT": "VARCHAR",
    "STRING": "VARCHAR",
    "NUMERIC": "DECIMAL",
}
_DECIMAL = re.compile(r"^\s*(?:decimal|numeric)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SqlType:
    """A DuckDB column type: a name, plus precision and scale for DECIMAL."""

    name: str
    precision: int | None = None
    scale: int | None = None

    def __str__(self) -> str:
        if self.name == "DECIMAL":
            return f"DECIMAL({self.precision},{self.scale})"
        return self.name

    @property
    def is_number(self) -> bool:
        """Floating or fixed point: the columns that can receive NaN or Infinity."""
        return self.name in {"DOUBLE", "FLOAT", "DECIMAL"}

    @property
    def is_number_float(self) -> bool:
        """A floating point type: its values may be NaN or Infinity."""
        return self.name in {"DOUBLE", "FLOAT"}


BIGINT = SqlType("BIGINT")
DOUBLE = SqlType("DOUBLE")
VARCHAR = SqlType("VARCHAR")
BOOLEAN = SqlType("BOOLEAN")
JSON = SqlType("JSON")
DATE = SqlType("DATE")
TIME = SqlType("TIME")
TIMESTAMPTZ = SqlType("TIMESTAMPTZ")
UUID = SqlType("UUID")

_STRING_FORMATS = {"date-time": TIMESTAMPTZ, "date": DATE, "time": TIME, "uuid": UUID}


class TypeDeclarationError(ValueError):
    """A property declares a type the loader cannot store exactly."""


def parse_duckdb_type(text: str) -> SqlType:
    """A DuckDB `data_type` string (information_schema) as a SqlType."""
    upper = " ".join(text.strip().upper().split())
    if m := _DECIMAL.match(upper):
        return SqlType("DECIMAL", int(m.group(1)), int(m.group(2) or 0))
    return SqlType(_ALIASES.get(upper, upper))


def decimal_type(precision: int, scale: int) -> SqlType:
    if precision < 1 or scale < 0 or scale > precision:
        raise TypeDeclarationError(f"decimal({precision},{scale}) is not a valid precision and scale")
    if precision > MAX_DECIMAL_PRECISION:
        raise TypeDeclarationError(
            f"decimal({precision},{scale}) has more digits than DuckDB's DECIMAL holds ({MAX_DECIMAL_PRECISION})"
        )
    return SqlType("DECIMAL", precision, scale)


def declared_decimal(prop: dict) -> SqlType | None:
    """The exact DECIMAL(p,s) a number property declares, if any.

    `"x-sql-datatype": "decimal(p,s)"` (or `numeric(p,s)`), or `"x-precision": p` with an optional
    `"x-scale": s` (default 0). Other `x-sql-datatype` values are not decimal declarations.
    """
    sql = prop.get("x-sql-datatype")
    if isinstance(sql, str) and (m := _DECIMAL.match(sql)):
        return decimal_type(int(m.group(1)), int(m.group(2) or 0))
    if prop.get("x-precision") is not None:
        return decimal_type(int(prop["x-precision"]), int(prop.get("x-scale") or 0))
    return None


def _is_null_branch(branch: t.Any) -> bool:
    return isinstance(branch, dict) and branch.get("type") in ("null", ["null"])


def from_jsonschema(prop: t.Any) -> SqlType:
    """The column type of one JSON Schema property; see the package README for the table."""
    if not isinstance(prop, dict):
        return JSON
    for union in ("anyOf", "oneOf"):
        if union in prop and "type" not in prop:
            branches = [b for b in prop[union] if not _is_null_branch(b)]
            if len(branches) == 1 and isinstance(branches[0], dict):
                outer = {k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}
                return from_jsonschema({**outer, **branches[0]})
            return JSON
    types = prop.get("type")
    if types is None:
        return JSON
    if isinstance(types, str):
        types = [types]
    kinds = {k for k in types if k != "null"}
    if not kinds:
        return VARCHAR
    if kinds & {"integer", "number"} and (decimal := declared_decimal(prop)):
        return decimal  # a declared precision wins, also over ["number", "string"] (decimals sent as text)
    if kinds <= {"integer", "number"}:
        kind = "number" if "number" in kinds else "integer"
    elif len(kinds) > 1:
        return JSON
    else:
        (kind,) = kinds
    if kind == "integer":
        return BIGINT
    if kind == "number":
        return DOUBLE
    if kind == "boolean":
        return BOOLEAN
    if kind in ("object", "array"):
        return JSON
    if kind == "string":
        if str(prop.get("x-sql-datatype", "")).strip().lower() == "uuid":
            return UUID
        return _STRING_FORMATS.get(str(prop.get("format", "")), VARCHAR)
    return JSON


def is_widening(old: SqlType, new: SqlType) -> bool:
    """True when every value of `old` has an exact value in `new` (ALTER ... TYPE is safe).

    INTEGER types to a larger integer type, to DECIMAL(p,s) with p-s >= their digits, or to
    DOUBLE (exact up to 2^53); DECIMAL(p,s) to DECIMAL(p2,s2) with p2-s2 >= p-s and s2 >= s;
    FLOAT to DOUBLE; TIMESTAMP to TIMESTAMPTZ (values read as UTC: the loader's session time zone);
    any type to VARCHAR (every value has an exact text form).
    """
    if old == new or new == VARCHAR:
        return True
    if old.name in INTEGER_DIGITS:
        if new.name in INTEGER_DIGITS:
            return INTEGER_DIGITS[new.name] >= INTEGER_DIGITS[old.name]
        if new.name == "DECIMAL":
            return (new.precision or 0) - (new.scale or 0) >= INTEGER_DIGITS[old.name]
        return new.name == "DOUBLE"
    if old.name == "DECIMAL" and new.name == "DECIMAL":
        return (new.precision or 0) - (new.scale or 0) >= (old.precision or 0) - (old.scale or 0) and (
            new.scale or 0
        ) >= (old.scale or 0)
    if old.name == "FLOAT":
        return new.name == "DOUBLE"
    if old.name == "TIMESTAMP":
        return new.name == "TIMESTAMPTZ"
    return False
