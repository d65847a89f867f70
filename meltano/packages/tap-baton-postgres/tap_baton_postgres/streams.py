"""Streams: the stock Postgres streams, with a COPY bulk path for `export_mode: copy`."""

from __future__ import annotations

import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from tap_postgres.client import PostgresLogBasedStream, PostgresStream

from tap_baton_postgres.export import (
    ExportResult,
    ParquetRefusal,
    TableExport,
    UnsupportedColumnsError,
    export_parquet,
    export_table,
    parquet_refusal,
)
from tap_baton_postgres.sdk_adapter import BaseBatchFileEncoding, SDKBatchMessage, StreamAdapter, to_json_compatible

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_baton_postgres.tap import TapBatonPostgres

CSV_ENCODING = BaseBatchFileEncoding(format="csv", compression="none")
PARQUET_ENCODING = BaseBatchFileEncoding(format="parquet", compression="none")


@dataclass
class CsvBatchMessage(SDKBatchMessage):
    """A Singer BATCH message whose files are CSV: it also names the files' columns, in order."""

    columns: list[str] = field(default_factory=list)


class CopyOrRecords(StreamAdapter):
    """With `export_mode: copy` a stream exports by COPY into Parquet or CSV files (BATCH messages) instead of
    RECORD messages, when it can; otherwise (said once per sync) it behaves as the stock stream."""

    def copy_refusal(self, context: Context | None) -> str | None:
        """Why this stream cannot take the COPY path, or None if it can."""
        if context:
            return "the stream is partitioned"
        if self.config.get("stream_maps") or self.config.get("flattening_enabled"):
            return "stream maps or flattening are configured (they transform records)"
        if self.ABORT_AT_RECORD_COUNT is not None:
            return "a record limit is set (test or dry run)"
        if self.config.get("max_record_count"):
            return "max_record_count is set"
        if self.replication_method == "INCREMENTAL" and not self.replication_key:
            return "INCREMENTAL without a replication key"
        if self.replication_method not in {"INCREMENTAL", "FULL_TABLE"}:
            return f"replication method {self.replication_method}"
        return None

    def sync_instead_of_records(self, context: Context | None) -> bool:
        if self.config.get("export_mode") != "copy":
            return False
        reason = self.copy_refusal(context)
        if reason is None:
            try:
                self._sync_copy()
                return True
            except UnsupportedColumnsError as exc:
                reason = f"column types without a CSV contract: {exc}"
        self.logger.warning("Stream '%s' falls back to the record path instead of COPY: %s", self.name, reason)
        return False

    def _sync_copy(self) -> None:
        """Export by COPY: BATCH messages per file, then STATE at the snapshot's maximum."""
        tap = t.cast("TapBatonPostgres", self.tap)
        incremental = self.replication_method == "INCREMENTAL"
        replication_key = self.replication_key if incremental else None
        start_value = None
        if replication_key:
            self.write_starting_replication_value(None)
            start_value = self.get_starting_replication_key_value(None)

        columns = list(self.get_selected_schema()["properties"])
        stream_options = self.config.get("stream_options", {}).get(self.name, {})
        export = TableExport(
            schema=self.metadata.root.schema_name or "public",
            table=self.catalog_entry.get("table_name") or self.name,
            columns=columns,
            replication_key=replication_key,
            start_value=start_value,
            where_clauses=[c.strip() for c in stream_options.get("custom_where_clauses") or []],
        )
        version = self.stream_version if not incremental else None
        record_counter = self.get_record_counter()
        batch_counter = self.get_batch_counter()
        timer = self.get_sync_timer()

        def announce(path: Path, rows: int, encoding: BaseBatchFileEncoding = CSV_ENCODING) -> None:
            message = SDKBatchMessage if encoding is PARQUET_ENCODING else CsvBatchMessage
            extra = {} if encoding is PARQUET_ENCODING else {"columns": columns}
            tap.write_message(
                message(
                    stream=self.name,
                    encoding=encoding,
                    manifest=[path.resolve().as_uri()],
                    version=version,
                    **extra,
                )
            )
            record_counter.increment(rows)
            batch_counter.increment()

        dsn = tap.connection_parameters.render_as_psycopg2_dsn()
        batch_size_rows = int(self.config.get("batch_size_rows") or tap.DEFAULT_BATCH_SIZE_ROWS)
        prefix = f"{self.name}-{tap.run_id}"
        file_format = self.config.get("copy_format") or "parquet"
        min_rows = int(self.config.get("parquet_min_rows", tap.DEFAULT_PARQUET_MIN_ROWS))
        if file_format == "parquet" and (refusal := parquet_refusal(dsn, export, min_rows)):
            self.logger.info("Stream '%s' is exported as CSV instead of Parquet: %s", self.name, refusal)
            file_format = "csv"

        started = time.perf_counter()
        self.logger.info(
            "Exporting '%s' by COPY into %s files (%s, from %s) in %s",
            self.name,
            file_format,
            "incremental" if replication_key else "full table",
            start_value if start_value is not None else "the beginning",
            tap.batch_directory,
        )
        with record_counter, batch_counter, timer:
            result: ExportResult | None = None
            if file_format == "parquet":
                try:
                    result, files = export_parquet(dsn, export, tap.batch_directory, prefix, batch_size_rows)
                except ParquetRefusal as exc:
                    self.logger.warning("Stream '%s' is exported as CSV instead of Parquet: %s", self.name, exc)
                    file_format = "csv"
                except Exception as exc:  # whatever DuckDB's reader refuses, CSV still carries
                    self.logger.warning(
                        "Stream '%s': the Parquet export failed (%s); exporting it as CSV instead", self.name, exc
                    )
                    file_format = "csv"
                else:
                    for path, rows in files:
                        announce(path, rows, PARQUET_ENCODING)
            if result is None:
                result = export_table(dsn, export, tap.batch_directory, prefix, batch_size_rows, announce)

        # The bookmark moves only now, after every BATCH message of the stream was written.
        if replication_key and result.max_value is not None:
            state = self.get_context_state(None)
            state["replication_key"] = replication_key
            state["replication_key_value"] = to_json_compatible(result.max_value)
        self.finalize_and_write_state()
        seconds = time.perf_counter() - started
        self.logger.info(
            "Exported %d rows of '%s' in %d %s file(s) in %.1f s (%.0f rows/s); bookmark %s",
            result.rows,
            self.name,
            result.files,
            file_format,
            seconds,
            result.rows / seconds if seconds else 0.0,
            self.stream_state.get("replication_key_value"),
        )


class BatonPostgresStream(CopyOrRecords, PostgresStream):
    """A table stream: COPY or the stock stream's records (see CopyOrRecords)."""


class BatonPostgresLogBasedStream(CopyOrRecords, PostgresLogBasedStream):
    """A LOG_BASED stream: always the record path (the WAL has no COPY), said once per sync."""

    def copy_refusal(self, context: Context | None) -> str | None:
        return "replication method LOG_BASED reads the write-ahead log"
