"""Discovered schemas: the stock tap's JSON Schema plus the exact SQL type of fixed-point columns
and the `uuid` format of uuid columns."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from tap_postgres.client import PostgresConnector, PostgresSQLToJSONSchema


class BatonSQLToJSONSchema(PostgresSQLToJSONSchema):
    """Postgres types to JSON Schema, as the stock tap maps them, with type annotations.

    `numeric(p,s)` stays a JSON `number` (what the record path writes) and gains
    `"x-sql-datatype": "decimal(p,s)"`, so a loader can create an exact DECIMAL(p,s) column.
    `numeric` without a precision carries no annotation (its scale is unbounded).
    `uuid` stays a JSON `string` (both paths write its canonical text) and gains `"format": "uuid"`,
    so a loader can create a UUID column; so do the items of a `uuid[]`.
    """

    def to_jsonschema(self, column_type: t.Any) -> dict:  # type: ignore[override]
        schema = super().to_jsonschema(column_type)
        if (
            isinstance(column_type, sa.Numeric)
            and not isinstance(column_type, sa.Float)
            and column_type.precision is not None
        ):
            scale = column_type.scale or 0
            schema = {**schema, "x-sql-datatype": f"decimal({column_type.precision},{scale})"}
        elif isinstance(column_type, sa.Uuid) and "string" in _types(schema):
            schema = {**schema, "format": "uuid"}
        return schema


def _types(schema: dict) -> list[str]:
    declared = schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


class BatonPostgresConnector(PostgresConnector):
    """The stock connector with the annotating type converter."""

    sql_to_jsonschema_converter = BatonSQLToJSONSchema
