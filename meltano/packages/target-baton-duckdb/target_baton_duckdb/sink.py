"""One stream's sink: RECORD messages gathered per batch (deduplicated by key), BATCH files staged
with DuckDB's readers; both merged by the store in one transaction per batch."""

from __future__ import annotations

import gzip
import json
import math
import re
import time
import typing as t
import uuid
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlparse

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.singerlib.json import deserialize_json

from target_baton_duckdb.sdk_adapter import SinkAdapter
from target_baton_duckdb.sqltypes import TypeDeclarationError, from_jsonschema
from target_baton_duckdb.tables import LoaderError, MergeResult, TableSpec

if t.TYPE_CHECKING:
    from target_baton_duckdb.target import TargetBatonDuckDB

METADATA_COLUMNS = (
    "_sdc_extracted_at",
    "_sdc_received_at",
    "_sdc_batched_at",
    "_sdc_deleted_at",
    "_sdc_sequence",
    "_sdc_table_version",
)
# The SDK adds this one too; raw tables do not keep it (the run's start is in _sdc_batched_at).
DROPPED_METADATA = ("_sdc_sync_started_at",)
# Read through DuckDB's JSON reader, a JSON number passes through a double: exact up to 15 digits.
JSON_READER_EXACT_DIGITS = 15


def safe_identifier(name: str) -> str:
    """Lower case, letters, digits and underscores; never starting with a digit."""
    text = re.sub(r"[^a-z0-9_]", "_", name.lower())
    return text if text and not text[0].isdigit() else f"_{text}"


def table_name(stream: str) -> str:
    """`shop-orders` -> `orders` (the part after the first '-'); `ad_spend` stays `ad_spend`."""
    _, dash, rest = stream.partition("-")
    return safe_identifier(rest if dash and rest else stream)


def _encode_default(value: t.Any) -> t.Any:
    if isinstance(value, Decimal):
        return str(value)  # exact: the JSON string is cast to the column's type
    if isinstance(value, datetime | date | dtime):
        return value.isoformat()
    return str(value)


_encode = json.JSONEncoder(default=_encode_default, separators=(",", ":"), ensure_ascii=False).encode


def _non_finite_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def local_path(uri: str) -> str:
    """The local path a manifest entry names (`file://` URI or a plain path)."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return unquote(parsed.path) if parsed.scheme else uri
    raise LoaderError(f"batch file {uri}: only local files (file:// URIs) are supported")


class DuckDBSink(SinkAdapter):
    """Loads one stream into `<default_target_schema>.<table>`."""

    MAX_SIZE_DEFAULT = 20_000  # measured: 20k-row batches load faster than 100k (see README)

    def __init__(self, target: TargetBatonDuckDB, stream_name: str, schema: dict, key_properties: t.Any) -> None:
        self.target = target
        super().__init__(target, stream_name, schema, key_properties)
        properties = {p: s for p, s in self.schema["properties"].items() if p not in DROPPED_METADATA}
        self.column_of = {p: p.lower() for p in properties}
        self._renames = {p: c for p, c in self.column_of.items() if p != c}
        if len(set(self.column_of.values())) != len(self.column_of):
            raise LoaderError(
                f"stream '{stream_name}' has properties whose names differ only in case "
                f"({', '.join(properties)}): DuckDB column names ignore case"
            )
        columns = {}
        for prop, prop_schema in properties.items():
            try:
                columns[self.column_of[prop]] = from_jsonschema(prop_schema)
            except TypeDeclarationError as exc:
                raise LoaderError(
                    f"property '{prop}' of stream '{stream_name}': {exc}. Declare a type DuckDB can hold exactly."
                ) from exc
        missing = [k for k in self.key_properties if k not in properties]
        if missing:
            raise LoaderError(f"stream '{stream_name}' names key properties its schema lacks: {', '.join(missing)}")
        replication_key = target.replication_key_of(stream_name)
        self.spec = TableSpec(
            stream=stream_name,
            schema=safe_identifier(target.config.get("default_target_schema") or "main"),
            table=table_name(stream_name),
            columns=columns,
            keys=[self.column_of[k] for k in self.key_properties],
            replication_key=self.column_of.get(replication_key, replication_key) if replication_key else None,
        )
        self._number_properties = [p for p in properties if columns[self.column_of[p]].is_number]
        self._key_props = list(self.key_properties)

    # --- SDK hooks ------------------------------------------------------------------------------
    @property
    def include_sdc_metadata_properties(self) -> bool:
        config = self.config
        return bool(config.get("add_metadata_columns", config.get("add_record_metadata", False)))

    @property
    def is_full(self) -> bool:
        """Never: the target checks the batch size itself and then drains every sink (see target.py)."""
        return False

    def validate_and_parse(self, record: dict) -> dict:
        """The SDK's validation (`validate_records`), its error naming the stream and the record."""
        try:
            return super().validate_and_parse(record)
        except InvalidRecord as exc:
            shown = _encode(record)
            raise LoaderError(
                f"a record of stream '{self.stream_name}' does not pass schema validation: {exc}. Record: "
                f"{shown[:2000]}. Fix the value at the source (the record names its file in _sdc_filename when "
                "it comes from one), or the declared type."
            ) from exc

    def parse_timestamps(self, record: dict, schema: dict, treatment: t.Any) -> None:
        """Timestamps stay as the tap wrote them: DuckDB casts ISO 8601 text (and `infinity`) exactly."""

    def setup(self) -> None:
        changes = self.target.store.ensure_table(self.spec)
        self.target.report.note_schema_changes(self.stream_name, changes)
        if not self.spec.keys and not self.spec.replication_key:
            self.target.keyless.full_table(self.spec)

    def process_record(self, record: dict, context: dict) -> None:
        for prop in DROPPED_METADATA:
            record.pop(prop, None)
        for prop in self._number_properties:
            value = record.get(prop)
            if value.__class__ is float and not math.isfinite(value):
                record[prop] = _non_finite_text(value)
        if self._renames:
            record = {self._renames.get(k, k): v for k, v in record.items()}
        records = context.setdefault("records", {})
        if self._key_props:
            key = tuple(record.get(self.column_of[k]) for k in self._key_props)
            try:
                hash(key)
            except TypeError:
                key = tuple(_encode(v) for v in key)
            if key in records:
                self.tally_duplicate_merged()
                del records[key]  # the last record wins, and keeps its arrival position
        else:
            key = len(records)
        records[key] = record
        self.target.report.count_received(self.stream_name, 1)

    def process_batch(self, context: dict) -> None:
        records = context.get("records") or {}
        if not records:
            return
        path = self.target.work_dir / f"records-{uuid.uuid4().hex}.jsonl"
        try:
            with open(path, "w", encoding="utf-8") as fh:
                for record in records.values():
                    fh.write(_encode(record))
                    fh.write("\n")
            names = list(self.spec.columns)
            self.target.store.stage_jsonl(self.spec, str(path), "none", names)
            result = self.target.store.merge(
                self.spec, names, non_finite=self.target.non_finite_numbers, **self.target.keyless.placement(self.spec)
            )
        finally:
            path.unlink(missing_ok=True)
        self.target.keyless.placed(self.spec, result)
        self.target.report.count_merged(self.stream_name, result)

    # --- BATCH messages -------------------------------------------------------------------------
    def load_batch(self, encoding: dict, manifest: list[str], columns: list[str] | None, version: t.Any) -> None:
        """Load one BATCH message's files in one transaction."""
        fmt = str(encoding.get("format", "")).lower()
        compression = str(encoding.get("compression") or "none").lower()
        if compression not in ("none", "gzip"):
            raise LoaderError(f"BATCH of stream '{self.stream_name}': compression {compression!r} is not supported")
        paths = [local_path(uri) for uri in manifest]
        if not paths:
            return
        for path in paths:
            if not Path(path).is_file():
                raise LoaderError(
                    f"BATCH of stream '{self.stream_name}': file {path} does not exist. The extractor's batch "
                    "files must be readable by the loader (same machine or a shared folder)."
                )
        store = self.target.store
        source = f", file {paths[0]}" + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")
        metadata = self.include_sdc_metadata_properties
        data_columns = [c for c in self.spec.columns if not (metadata and c in METADATA_COLUMNS)]
        if fmt == "csv":
            names = [c.lower() for c in (columns or self._schema_order())]
            unknown = [c for c in names if c not in self.spec.columns]
            if unknown:
                raise LoaderError(
                    f"BATCH of stream '{self.stream_name}'{source}: columns {', '.join(unknown)} are not in the "
                    "stream's schema"
                )
            store.stage_csv(self.spec, paths, compression, names)
        elif fmt == "jsonl":
            names = data_columns
            if self._needs_exact_json():
                local = self.target.work_dir / f"batch-{uuid.uuid4().hex}.jsonl"
                try:
                    self._rewrite_jsonl(paths, compression, local)
                    store.stage_jsonl(self.spec, str(local), "none", names)
                finally:
                    local.unlink(missing_ok=True)
            else:
                store.stage_jsonl(self.spec, paths, compression, names)
        elif fmt == "parquet":
            names = store.stage_parquet(self.spec, paths)
        else:
            raise LoaderError(
                f"BATCH of stream '{self.stream_name}': format {fmt!r} is not supported (jsonl, parquet, csv)"
            )
        constants: dict[str, t.Any] = {}
        if metadata:
            now = datetime.now(tz=UTC).isoformat()
            constants = {
                "_sdc_extracted_at": now,
                "_sdc_received_at": now,
                "_sdc_batched_at": now,
                "_sdc_deleted_at": None,
                "_sdc_sequence": round(time.time() * 1000),
                "_sdc_table_version": version,
            }
        (rows,) = store.conn.execute("select count(*) from _baton_stage").fetchone()
        self.target.report.count_received(self.stream_name, int(rows))
        result: MergeResult = store.merge(
            self.spec,
            names,
            source=source,
            non_finite=self.target.non_finite_numbers,
            constants=constants,
            **self.target.keyless.placement(self.spec),
        )
        self.target.keyless.placed(self.spec, result)
        self.target.report.count_merged(self.stream_name, result)
        self.logger.info(
            "Loaded BATCH of '%s' (%s, %d file(s)): %d rows, %d inserted, %d updated, %d unchanged, %d removed",
            self.stream_name,
            fmt,
            len(paths),
            result.rows,
            result.inserted,
            result.updated,
            result.unchanged,
            result.deleted,
        )
        if self.config.get("delete_batch_files", False):
            for path in paths:
                Path(path).unlink(missing_ok=True)

    def _schema_order(self) -> list[str]:
        return [p for p in self.original_schema["properties"] if p not in METADATA_COLUMNS + DROPPED_METADATA]

    def _needs_exact_json(self) -> bool:
        """DECIMAL columns wider than a double's exact digits: such jsonl files are parsed in Python."""
        return any(
            sql_type.name == "DECIMAL" and (sql_type.precision or 0) > JSON_READER_EXACT_DIGITS
            for sql_type in self.spec.columns.values()
        )

    def _rewrite_jsonl(self, paths: list[str], compression: str, out: Path) -> None:
        with open(out, "w", encoding="utf-8") as fh:
            for path in paths:
                opener = gzip.open if compression == "gzip" else open
                with opener(path, "rb") as src:
                    for line in src:
                        if line.strip():
                            record = deserialize_json(line)
                            if self._renames:
                                record = {self._renames.get(k, k): v for k, v in record.items()}
                            fh.write(_encode(record))
                            fh.write("\n")
