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
import json
import shutil
import sys
import tempfile
import typing as t
from datetime import UTC, datetime
from pathlib import Path

from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import TARGET_BATCH_SIZE_ROWS_CONFIG, TARGET_VALIDATE_RECORDS_CONFIG
from singer_sdk.target_base import Target

from target_baton_duckdb.bookmarks import BookmarkGuard
from target_baton_duckdb.keyless import KeylessStreams
from target_baton_duckdb.report import RunReport
from target_baton_duckdb.sink import DuckDBSink
from target_baton_duckdb.store import Store
from target_baton_duckdb.tables import LoaderError
from target_baton_duckdb.termination import StopAtMessageBoundary


class TargetBatonDuckDB(StopAtMessageBoundary):
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
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1  # one DuckDB connection, one writer
        self._store: Store | None = None
        self._work_dir: Path | None = None
        self._replication_keys: dict[str, str] = {}
        self._written_state: dict | None = None
        self.report = RunReport()
        self.keyless = KeylessStreams(self.logger)
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

    def drain_all(self, *, is_endofpipe: bool = False) -> None:
        """At the end of the input, FULL_TABLE streams without keys are swapped in before the final STATE."""
        if not is_endofpipe or not self.keyless.full_tables:
            super().drain_all(is_endofpipe=is_endofpipe)
            return
        latest, self.latest_state = self.latest_state, None
        super().drain_all(is_endofpipe=True)
        self.keyless.replace_full_tables(self.store, self.report)
        self.latest_state = latest
        if latest:
            self.write_state(copy.deepcopy(latest))

    def stop_at_boundary(self, signum: int) -> None:
        """Commit what was received, write the STATE that covers it, report."""
        for stream, spec in self.keyless.full_tables:
            self.logger.warning(
                "Stopped by signal %d: table %s of FULL_TABLE stream '%s' (no key properties) is left as it was; "
                "the next run reads the stream again and replaces it",
                signum,
                spec.label,
                stream,
            )
        self.drain_all()  # not the end of the input: FULL_TABLE streams are not swapped in
        self._report_and_close()

    # --- messages -------------------------------------------------------------------------------
    def on_schema(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
        bookmark_properties = message_dict.get("bookmark_properties") or []
        if stream and bookmark_properties:
            self._replication_keys[stream] = bookmark_properties[0]
        existing = self.active_sinks.get(stream) if stream else None
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
        self.sdk_schema(message_dict)

    def on_record(self, message_dict: dict) -> None:
        self.keyless.stream_begins(message_dict.get("stream", ""))
        self.sdk_record(message_dict)
        stream = message_dict["stream"]
        for stream_map in self.mapper.stream_maps.get(stream, []):
            sink = self.active_sinks.get(stream_map.stream_alias)
            if sink is not None and sink.current_size >= sink.max_size:
                self.logger.info(
                    "Batch of '%s' is full (%d rows): committing all streams", sink.stream_name, sink.current_size
                )
                # All sinks, so that the STATE received so far can be written once they are committed.
                self.drain_all()
                break

    def on_batch(self, message_dict: dict) -> None:
        self.require_line(message_dict, requires={"stream", "encoding", "manifest"})
        stream = message_dict["stream"]
        self.require_sink(stream)
        self.keyless.stream_begins(stream)
        sink = t.cast("DuckDBSink", self.get_sink(stream))
        self.drain_one(sink)  # the stream's records that came before these files go first
        sink.load_batch(
            message_dict["encoding"] or {},
            list(message_dict["manifest"] or []),
            message_dict.get("columns"),
            message_dict.get("version"),
        )
        self.drain_if_old()

    def on_state(self, message_dict: dict) -> None:
        self.require_line(message_dict, requires={"value"})
        state = message_dict["value"]
        if self.latest_state == state:
            return
        self.latest_state = state
        self.keyless.note_bookmarks(state)
        self._learn_replication_keys(state)
        if not any(sink.current_size for sink in self.pending_sinks()):
            # Everything received before this STATE is committed: it may be written now.
            self.write_state(copy.deepcopy(state))

    def _learn_replication_keys(self, state: t.Any) -> None:
        bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
        if not isinstance(bookmarks, dict):
            return
        for stream, bookmark in bookmarks.items():
            key = bookmark.get("replication_key") if isinstance(bookmark, dict) else None
            if key and self._replication_keys.get(stream) != key:
                self._replication_keys[stream] = key
                sink = self.active_sinks.get(stream)
                if sink is not None:
                    self.store.set_replication_key(stream, key.lower())

    def write_state(self, state: dict) -> None:
        guarded = self.guard.apply(state)
        if guarded == self._written_state:
            return
        self._written_state = guarded
        sys.stdout.write(json.dumps(guarded) + "\n")
        sys.stdout.flush()

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        self._report_and_close()

    def _report_and_close(self) -> None:
        sinks = self.active_sinks
        self.report.write(
            {stream: sink.spec.label if isinstance(sink, DuckDBSink) else None for stream, sink in sinks.items()}
        )
        if self._store is not None:
            self._store.close()
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)


__all__ = ["LoaderError", "TargetBatonDuckDB"]
