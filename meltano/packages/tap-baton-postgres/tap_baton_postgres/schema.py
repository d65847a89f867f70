"""Discovered schemas: the stock tap's JSON Schema plus the exact SQL type of fixed-point columns."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from tap_postgres.client import PostgresConnector, PostgresSQLToJSONSchema


class BatonSQLToJSONSchema(PostgresSQLToJSONSchema):
    """Postgres types to JSON Schema, as the stock tap maps them, with decimal annotations.

    `numeric(p,s)` stays a JSON `number` (what the record path writes) and gains
    `"x-sql-datatype": "decimal(p,s)"`, so a loader can create an exact DECIMAL(p,s) column.
    `numeric` without a precision carries no annotation (its scale is unbounded).
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
        return schema


class BatonPostgresConnector(PostgresConnector):
    """The stock connector with the annotating type converter."""

    sql_to_jsonschema_converter = BatonSQLToJSONSchema
