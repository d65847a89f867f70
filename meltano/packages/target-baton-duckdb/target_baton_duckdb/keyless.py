"""Streams without key properties (see store.py for how their batches are written).

An INCREMENTAL one replaces its re-read window, from the bookmark the run started from (the STATE
the extractor echoes before it reads the stream; none: the whole table is re-read), in the
transaction of its first batch. A FULL_TABLE one goes to a temp table of the run, swapped in at the
end of the input, before the final STATE is written.
"""

from __future__ import annotations

import hashlib
import logging
import typing as t

from target_baton_duckdb.report import RunReport
from target_baton_duckdb.store import Store
from target_baton_duckdb.tables import MergeResult, TableSpec

FULL_TABLE_STAGE = "_baton_full_{}"


class KeylessStreams:
    """Where each batch of a stream without key properties goes, and the FULL_TABLE swaps of the run."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        # The bookmark each stream's latest STATE held before the stream's first message (its
        # starting bookmark), the streams whose re-read window is replaced already, and the
        # FULL_TABLE streams with the temp table of their run.
        self._bookmarks_seen: dict[str, t.Any] = {}
        self._start_bookmarks: dict[str, t.Any] = {}
        self._windows_replaced: set[str] = set()
        self._full_tables: dict[str, tuple[TableSpec, str | None]] = {}

    @property
    def full_tables(self) -> list[tuple[str, TableSpec]]:
        """The FULL_TABLE streams of the run, by name, with their table, not swapped in yet."""
        return [(stream, spec) for stream, (spec, _) in sorted(self._full_tables.items())]

    def note_bookmarks(self, state: t.Any) -> None:
        bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
        if not isinstance(bookmarks, dict):
            return
        for stream, bookmark in bookmarks.items():
            if stream not in self._start_bookmarks:
                self._bookmarks_seen[stream] = bookmark_value(bookmark)

    def stream_begins(self, stream: str) -> None:
        """The stream's first RECORD or BATCH of the run: its starting bookmark is the one seen so far."""
        if stream not in self._start_bookmarks:
            self._start_bookmarks[stream] = self._bookmarks_seen.get(stream)

    def placement(self, spec: TableSpec) -> dict[str, t.Any]:
        """Where a batch of a stream without key properties goes (store.merge's `into`, `window`)."""
        if spec.keys:
            return {}
        if spec.stream in self._full_tables:
            into = self._full_tables[spec.stream][1] or FULL_TABLE_STAGE.format(
                hashlib.sha1(spec.stream.encode()).hexdigest()[:12]
            )
            self._full_tables[spec.stream] = (spec, into)
            return {"into": into}
        if spec.replication_key and spec.stream not in self._windows_replaced:
            start = self._start_bookmarks.get(spec.stream)
            return {"window": (spec.replication_key, start)}
        return {}

    def placed(self, spec: TableSpec, result: MergeResult) -> None:
        """A batch is committed: the run's window of the stream is replaced."""
        if not spec.keys and spec.replication_key and spec.stream not in self._full_tables:
            if spec.stream not in self._windows_replaced:
                start = self._start_bookmarks.get(spec.stream)
                self.logger.info(
                    "Stream '%s' has no key properties: replaced its re-read window (%s) with this run's rows: "
                    "%d row(s) removed",
                    spec.stream,
                    f"{spec.replication_key} >= {start}" if start is not None else "every row: no starting bookmark",
                    result.deleted,
                )
            self._windows_replaced.add(spec.stream)

    def full_table(self, spec: TableSpec) -> None:
        """A stream without key properties nor replication key: its table is replaced at the end."""
        if spec.stream not in self._full_tables:
            self._full_tables[spec.stream] = (spec, None)
        else:
            self._full_tables[spec.stream] = (spec, self._full_tables[spec.stream][1])

    def replace_full_tables(self, store: Store, report: RunReport) -> None:
        for stream, (spec, into) in sorted(self._full_tables.items()):
            deleted, inserted = store.replace_table(spec, into)
            report.figures(stream)["deleted"] += deleted
            self.logger.info(
                "Replaced table %s of FULL_TABLE stream '%s' (no key properties) with this run's %d row(s) "
                "(%d before), in one transaction",
                spec.label,
                stream,
                inserted,
                deleted,
            )
        self._full_tables.clear()


def bookmark_value(bookmark: t.Any) -> t.Any:
    """The replication key value a stream's bookmark starts a read from: its own, or the smallest of
    its partitions' (None when one partition has none: that partition is read from its start)."""
    if not isinstance(bookmark, dict):
        return None
    if bookmark.get("replication_key_value") is not None:
        return bookmark["replication_key_value"]
    values = [p.get("replication_key_value") for p in bookmark.get("partitions") or [] if isinstance(p, dict)]
    if values and all(v is not None for v in values):
        try:
            return min(values)
        except TypeError:
            return None
    return None
