"""Tables and their evolution: a stream's table created, or evolved to the stream's schema (new columns
added, safe widenings ALTERed, anything else refused), and the `_baton.streams` catalogue row kept."""

from __future__ import annotations

import json

from target_baton_duckdb.quoting import ident
from target_baton_duckdb.sqltypes import SqlType, is_widening, parse_duckdb_type
from target_baton_duckdb.tables import LoaderError, SchemaChange, StorePart, TableSpec

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


class SchemaEvolution(StorePart):
    """The tables of the run's streams and the catalogue `_baton.streams`."""

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
