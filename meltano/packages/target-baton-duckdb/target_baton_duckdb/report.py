"""The run's figures per stream (rows received, inserted, updated, unchanged, removed; schema changes),
written at the end as one `baton-loader: {...}` line per stream on stderr (the ingestion job reads them)."""

from __future__ import annotations

import json
import sys

from target_baton_duckdb.tables import MergeResult, SchemaChange

SUMMARY_PREFIX = "baton-loader: "


class RunReport:
    """What the run did, per stream."""

    def __init__(self) -> None:
        self._figures: dict[str, dict[str, int]] = {}
        self._schema_changes: dict[str, list[dict]] = {}

    @property
    def streams(self) -> set[str]:
        return set(self._figures)

    def figures(self, stream: str) -> dict[str, int]:
        return self._figures.setdefault(stream, {"rows": 0, "inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0})

    def count_received(self, stream: str, rows: int) -> None:
        self.figures(stream)["rows"] += rows

    def count_merged(self, stream: str, result: MergeResult) -> None:
        figures = self.figures(stream)
        figures["inserted"] += result.inserted
        figures["updated"] += result.updated
        figures["unchanged"] += result.unchanged
        figures["deleted"] += result.deleted

    def note_schema_changes(self, stream: str, changes: list[SchemaChange]) -> None:
        known = self._schema_changes.setdefault(stream, [])
        for change in changes:
            if change.as_dict() not in known:
                known.append(change.as_dict())

    def write(self, tables: dict[str, str | None]) -> None:
        """One summary line per stream of `tables` (stream -> its table, if known) and per stream counted."""
        for stream in sorted({*tables, *self._figures}):
            line = {
                "stream": stream,
                "table": tables.get(stream),
                **self.figures(stream),
                "schema_changes": self._schema_changes.get(stream, []),
            }
            sys.stderr.write(SUMMARY_PREFIX + json.dumps(line) + "\n")
        sys.stderr.flush()
