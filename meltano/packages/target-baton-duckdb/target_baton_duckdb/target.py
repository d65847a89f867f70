"""target-baton-duckdb: Singer messages into one DuckDB file, typed as declared, upserted by key.

Ordering guarantees (what makes a killed load resume without loss or duplicates):
- a STATE is written to stdout only when every record received before it is committed: at the
  SDK's drain of all sinks (a full batch drains all sinks here, not one), or at once when it
  arrives with nothing pending;
- a BATCH message is loaded (committed) when it arrives, after the stream's pending records;
- every STATE passes the bookmark guard first (see bookmarks.py);
- streams without key properties (see store.py): an INCREMENTAL one replaces its re-read window,
  from the bookmark the run started from (the STATE the extractor echoes before it reads the
  stream; none: the whole table is re-read) in the transaction of its first batch; a FULL_TABLE
  one is swapped in at the end of the input, before the final STATE is written;
- SIGTERM or SIGINT (docker stop, an ECS StopTask, Meltano stopping its plugins) never interrupts
  the handling of a message: no commit is cut short and none starts twice. The loader stops at
  the next message boundary (at once when it is waiting for input): it commits the records it
  holds, writes the latest STATE (which covers only committed rows), leaves the tables of
  FULL_TABLE streams without keys as they were (their read did not end), prints its summary and
  exits with 143 (128 + SIGTERM).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import signal
import sys
import tempfile
import typing as t
from datetime import UTC, datetime
from pathlib import Path

from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import TARGET_BATCH_SIZE_ROWS_CONFIG, TARGET_VALIDATE_RECORDS_CONFIG
from singer_sdk.target_base import Target

from target_baton_duckdb.bookmarks import BookmarkGuard
from target_baton_duckdb.sink import DuckDBSink
from target_baton_duckdb.store import Store
from target_baton_duckdb.tables import LoaderError, MergeResult, SchemaChange, TableSpec

SUMMARY_PREFIX = "baton-loader: "
FULL_TABLE_STAGE = "_baton_full_{}"
EXIT_STOPPED = 128 + signal.SIGTERM  # 143, as a process ended by SIGTERM


class _Stop(BaseException):
    """Raised at a message boundary once a termination signal has arrived."""


class TargetBatonDuckDB(Target):
    """Loads Singer streams into DuckDB tables `<default_target_schema>.<table>`."""

    name = "target-baton-duckdb"
    default_sink_class = DuckDBSink

    config_jsonschema = th.PropertiesList(
        th.Property("path", th.StringType, required=True, description="The DuckDB file to write."),
        th.Property(
            "default_target_schema",
            th.StringType,
            default="main",
            description="The schema of the tables: stream `shop-orders` lands in `<schema>.orders`.",
        ),
        th.Property(
            "add_metadata_columns",
            th.BooleanType,
            default=False,
            description="Add _sdc_extracted_at, _sdc_received_at, _sdc_batched_at, _sdc_deleted_at, "
            "_sdc_sequence, _sdc_table_version to every table.",
        ),
        th.Property(
            "non_finite_numbers",
            th.StringType,
            default="fail",
            allowed_values=["fail", "null"],
            description="NaN or Infinity in a number column: fail the load (default), or load NULL with a warning.",
        ),
        th.Property(
            "future_bookmarks",
            th.StringType,
            default="clamp",
            allowed_values=["clamp", "fail"],
            description="A date/timestamp bookmark beyond the loader's start (+ tolerance): clamp it to the "
            "start with a warning (default), or fail.",
        ),
        th.Property(
            "bookmark_tolerance_seconds",
            th.IntegerType,
            default=300,
            description="How far beyond the loader's start a bookmark may lie (clock skew between hosts).",
        ),
        th.Property(
            "delete_batch_files",
            th.BooleanType,
            default=False,
            description="Delete a BATCH message's local files after they are loaded and committed.",
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self.started_at = datetime.now(tz=UTC)
        # Termination (the SDK installs the handler in __init__): the signal received (None: none),
        # and whether the loader waits between two messages, with nothing half done.
        self._stop_signal: int | None = None
        self._between_messages = False
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1  # one DuckDB connection, one writer
        self._store: Store | None = None
        self._work_dir: Path | None = None
        self._replication_keys: dict[str, str] = {}
        self._written_state: dict | None = None
        self._report: dict[str, dict[str, int]] = {}
        self._schema_changes: dict[str, list[dict]] = {}
        # Streams without key properties: the bookmark each stream's latest STATE held before the
        # stream's first message (its starting bookmark), the streams whose re-read window is
        # replaced already, and the FULL_TABLE streams with the temp table of their run.
        self._bookmarks_seen: dict[str, t.Any] = {}
        self._start_bookmarks: dict[str, t.Any] = {}
        self._windows_replaced: set[str] = set()
        self._full_tables: dict[str, tuple[TableSpec, str | None]] = {}
        self.guard = BookmarkGuard(
            self.started_at,
            float(self.config.get("bookmark_tolerance_seconds", 300)),
            str(self.config.get("future_bookmarks", "clamp")),
            self.logger,
        )

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """The SDK's target settings this loader honours: batch_size_rows, validate_records (no
        load_method: it always upserts by key; add_record_metadata is read as add_metadata_columns)."""
        for builtin in (TARGET_BATCH_SIZE_ROWS_CONFIG, TARGET_VALIDATE_RECORDS_CONFIG):
            for key, value in builtin["properties"].items():
                config_jsonschema["properties"].setdefault(key, value)
        super(Target, cls).append_builtin_config(config_jsonschema)

    # --- resources ------------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(str(self.config["path"]), self.logger)
        return self._store

    @property
    def work_dir(self) -> Path:
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="target-baton-duckdb-"))
        return self._work_dir

    @property
    def non_finite_numbers(self) -> str:
        return str(self.config.get("non_finite_numbers", "fail"))

    def replication_key_of(self, stream: str) -> str | None:
        return self._replication_keys.get(stream)

    # --- the run's figures ----------------------------------------------------------------------
    def _figures(self, stream: str) -> dict[str, int]:
        return self._report.setdefault(stream, {"rows": 0, "inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0})

    def count_received(self, stream: str, rows: int) -> None:
        self._figures(stream)["rows"] += rows

    def count_merged(self, stream: str, result: MergeResult) -> None:
        figures = self._figures(stream)
        figures["inserted"] += result.inserted
        figures["updated"] += result.updated
        figures["unchanged"] += result.unchanged
        figures["deleted"] += result.deleted

    def note_schema_changes(self, stream: str, changes: list[SchemaChange]) -> None:
        known = self._schema_changes.setdefault(stream, [])
        for change in changes:
            if change.as_dict() not in known:
                known.append(change.as_dict())

    # --- streams without key properties -----------------------------------------------------------
    def _note_bookmarks(self, state: t.Any) -> None:
        bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
        if not isinstance(bookmarks, dict):
            return
        for stream, bookmark in bookmarks.items():
            if stream not in self._start_bookmarks:
                self._bookmarks_seen[stream] = _bookmark_value(bookmark)

    def _stream_begins(self, stream: str) -> None:
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

    def _replace_full_tables(self) -> None:
        for stream, (spec, into) in sorted(self._full_tables.items()):
            deleted, inserted = self.store.replace_table(spec, into)
            figures = self._figures(stream)
            figures["deleted"] += deleted
            self.logger.info(
                "Replaced table %s of FULL_TABLE stream '%s' (no key properties) with this run's %d row(s) "
                "(%d before), in one transaction",
                spec.label,
                stream,
                inserted,
                deleted,
            )
        self._full_tables.clear()

    def drain_all(self, *, is_endofpipe: bool = False) -> None:
        """At the end of the input, FULL_TABLE streams without keys are swapped in before the final STATE."""
        if not is_endofpipe or not self._full_tables:
            super().drain_all(is_endofpipe=is_endofpipe)
            return
        latest, self._latest_state = self._latest_state, None
        super().drain_all(is_endofpipe=True)
        self._replace_full_tables()
        self._latest_state = latest
        if latest:
            self._write_state_message(copy.deepcopy(latest))

    # --- termination ----------------------------------------------------------------------------
    def _handle_termination(self, signum: int, frame: t.Any) -> None:
        """SIGTERM/SIGINT (the SDK's handler, replaced): never drains from inside the signal
        handler, where a commit may be under way. Between two messages (waiting for input) the
        loader stops at once; otherwise at the end of the message it is handling."""
        first = self._stop_signal is None
        self._stop_signal = signum
        if first:
            self.logger.warning(
                "Received signal %d: stopping at the next message boundary (what was received is committed, "
                "then the STATE that covers it is written)",
                signum,
            )
        if self._between_messages:
            raise _Stop

    def _one_message(self, handle: t.Callable[[dict], None], message_dict: dict) -> None:
        """Handle one message with termination deferred; stop after it if a signal came meanwhile."""
        self._between_messages = False
        handle(message_dict)
        self._between_messages = True
        if self._stop_signal is not None:
            raise _Stop

    def listen(self, file_input: t.IO[str] | None = None) -> None:
        try:
            self._between_messages = True
            if self._stop_signal is not None:
                raise _Stop
            super().listen(file_input)
        except _Stop:
            self._stop()

    def _stop(self) -> None:
        """Commit what was received, write the STATE that covers it, report, exit 143."""
        self._between_messages = False
        signum = self._stop_signal or signal.SIGTERM
        for stream, (spec, _) in sorted(self._full_tables.items()):
            self.logger.warning(
                "Stopped by signal %d: table %s of FULL_TABLE stream '%s' (no key properties) is left as it was; "
                "the next run reads the stream again and replaces it",
                signum,
                spec.label,
                stream,
            )
        self.drain_all()  # not the end of the input: FULL_TABLE streams are not swapped in
        self._report_and_close()
        self.logger.warning("Stopped by signal %d: every STATE written covers committed rows only", signum)
        sys.exit(EXIT_STOPPED)

    # --- messages -------------------------------------------------------------------------------
    def _process_schema_message(self, message_dict: dict) -> None:
        self._one_message(self._schema_message, message_dict)

    def _process_record_message(self, message_dict: dict) -> None:
        self._one_message(self._record_message, message_dict)

    def _process_batch_message(self, message_dict: dict) -> None:
        self._one_message(self._batch_message, message_dict)

    def _process_state_message(self, message_dict: dict) -> None:
        self._one_message(self._state_message, message_dict)

    def _process_activate_version_message(self, message_dict: dict) -> None:
        self._one_message(super()._process_activate_version_message, message_dict)

    def _schema_message(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
        bookmark_properties = message_dict.get("bookmark_properties") or []
        if stream and bookmark_properties:
            self._replication_keys[stream] = bookmark_properties[0]
        existing = self._sinks_active.get(stream) if stream else None
        if (
            existing is not None
            and existing.current_size
            and (
                existing.original_schema != message_dict.get("schema")
                or list(existing.key_properties) != list(message_dict.get("key_properties") or [])
            )
        ):
            # The new schema may alter the table: first commit what came under the old one.
            self.drain_all()
        super()._process_schema_message(message_dict)

    def _record_message(self, message_dict: dict) -> None:
        self._stream_begins(message_dict.get("stream", ""))
        super()._process_record_message(message_dict)
        stream = message_dict["stream"]
        for stream_map in self.mapper.stream_maps.get(stream, []):
            sink = self._sinks_active.get(stream_map.stream_alias)
            if sink is not None and sink.current_size >= sink.max_size:
                self.logger.info(
                    "Batch of '%s' is full (%d rows): committing all streams", sink.stream_name, sink.current_size
                )
                # All sinks, so that the STATE received so far can be written once they are committed.
                self.drain_all()
                break

    def _batch_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"stream", "encoding", "manifest"})
        stream = message_dict["stream"]
        self._assert_sink_exists(stream)
        self._stream_begins(stream)
        sink = t.cast("DuckDBSink", self.get_sink(stream))
        self.drain_one(sink)  # the stream's records that came before these files go first
        sink.load_batch(
            message_dict["encoding"] or {},
            list(message_dict["manifest"] or []),
            message_dict.get("columns"),
            message_dict.get("version"),
        )
        self._handle_max_record_age()

    def _state_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        state = message_dict["value"]
        if self._latest_state == state:
            return
        self._latest_state = state
        self._note_bookmarks(state)
        self._learn_replication_keys(state)
        if not any(sink.current_size for sink in [*self._sinks_active.values(), *self._sinks_to_clear]):
            # Everything received before this STATE is committed: it may be written now.
            self._write_state_message(copy.deepcopy(state))

    def _learn_replication_keys(self, state: t.Any) -> None:
        bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
        if not isinstance(bookmarks, dict):
            return
        for stream, bookmark in bookmarks.items():
            key = bookmark.get("replication_key") if isinstance(bookmark, dict) else None
            if key and self._replication_keys.get(stream) != key:
                self._replication_keys[stream] = key
                sink = self._sinks_active.get(stream)
                if sink is not None:
                    self.store.set_replication_key(stream, key.lower())

    def _write_state_message(self, state: dict) -> None:
        guarded = self.guard.apply(state)
        if guarded == self._written_state:
            return
        self._written_state = guarded
        sys.stdout.write(json.dumps(guarded) + "\n")
        sys.stdout.flush()

    def process_endofpipe(self) -> None:
        self._between_messages = False
        if self._stop_signal is not None:
            # The input ended after a termination signal (the extractor stopped too): not a
            # complete read, so FULL_TABLE streams are not swapped in.
            raise _Stop
        super().process_endofpipe()
        self._report_and_close()

    def _report_and_close(self) -> None:
        for stream in sorted({*self._sinks_active, *self._report}):
            sink = self._sinks_active.get(stream)
            table = sink.spec.label if isinstance(sink, DuckDBSink) else None
            line = {
                "stream": stream,
                "table": table,
                **self._figures(stream),
                "schema_changes": self._schema_changes.get(stream, []),
            }
            sys.stderr.write(SUMMARY_PREFIX + json.dumps(line) + "\n")
        sys.stderr.flush()
        if self._store is not None:
            self._store.close()
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)


def _bookmark_value(bookmark: t.Any) -> t.Any:
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


__all__ = ["LoaderError", "TargetBatonDuckDB"]
