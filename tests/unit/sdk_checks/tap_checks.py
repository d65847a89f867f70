"""The singer-sdk private members behind tap_baton_postgres/sdk_adapter.py, checked in the extractor's own
environment: each check fails if the installed singer-sdk renamed one, changed its signature or stopped
doing what the extractor relies on. `python -m tests.unit.sdk_checks.tap_checks OUT.json`."""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import typing as t
import uuid
from datetime import UTC, datetime

from singer_sdk import Stream, Tap
from singer_sdk.singerlib.messages import format_message
from tap_baton_postgres.sdk_adapter import StreamAdapter, to_json_compatible
from tap_baton_postgres.streams import CSV_ENCODING, CsvBatchMessage

from tests.unit.sdk_checks.runner import run


class Items(StreamAdapter, Stream):
    name = "items"
    schema: t.ClassVar[dict] = {"type": "object", "properties": {"id": {"type": "integer"}}}
    replication_key = "id"
    instead = False

    def get_records(self, context: t.Any) -> t.Iterable[dict]:
        yield from ({"id": 1}, {"id": 2})

    def sync_instead_of_records(self, context: t.Any) -> bool:
        return self.instead


class Check(Tap):
    name = "tap-sdk-check"
    config_jsonschema: t.ClassVar[dict] = {"type": "object", "properties": {}}

    def discover_streams(self) -> list[Stream]:
        return [Items(self)]


def messages(action: t.Callable[[], None]) -> list[dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        action()
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def check_private_members_keep_their_signatures() -> None:
    params = inspect.signature(Stream._sync_records).parameters
    assert list(params) == ["self", "context", "write_messages"], list(params)
    assert params["write_messages"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.isgeneratorfunction(Stream._sync_records)
    assert list(inspect.signature(Stream._write_starting_replication_value).parameters) == ["self", "context"]
    assert list(inspect.signature(Stream._finalize_state).parameters) == ["self", "state"]
    assert list(inspect.signature(Stream._write_state_message).parameters) == ["self"]


def check_batch_message_as_written() -> None:
    message = CsvBatchMessage(
        stream="items", encoding=CSV_ENCODING, manifest=["file:///b/items-1.csv"], version=None, columns=["id"]
    )
    written = json.loads(format_message(message))
    assert written["type"] == "BATCH", written
    assert written["encoding"] == {"format": "csv", "compression": "none"}, written
    assert (written["stream"], written["manifest"], written["columns"]) == ("items", ["file:///b/items-1.csv"], ["id"])


def check_bookmark_values_as_the_sdk_writes_them() -> None:
    assert to_json_compatible(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000+00:00"
    assert to_json_compatible(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000000+00:00"
    value = uuid.UUID(int=1)
    assert to_json_compatible(value) == str(value)
    assert to_json_compatible(42) == 42


def check_sync_goes_through_the_hook() -> None:
    tap = Check(config={})
    stream = tap.streams["items"]
    assert stream.tap is tap
    assert stream.stream_version is None
    records = [m for m in messages(tap.sync_all) if m["type"] == "RECORD"]
    assert [r["record"] for r in records] == [{"id": 1}, {"id": 2}], records
    other = Check(config={})
    other.streams["items"].instead = True
    assert not [m for m in messages(other.sync_all) if m["type"] == "RECORD"]


def check_starting_bookmark_and_final_state() -> None:
    tap = Check(config={}, state={"bookmarks": {"items": {"replication_key": "id", "replication_key_value": 5}}})
    stream = tap.streams["items"]
    stream.write_starting_replication_value(None)
    assert stream.get_starting_replication_key_value(None) == 5
    state = stream.get_context_state(None)
    state["replication_key"] = "id"
    state["replication_key_value"] = 9
    states = [m for m in messages(stream.finalize_and_write_state) if m["type"] == "STATE"]
    assert states and states[-1]["value"]["bookmarks"]["items"]["replication_key_value"] == 9, states


def check_stream_version_is_the_activate_version() -> None:
    tap = Check(config={"emit_activate_version_messages": True})
    stream = tap.streams["items"]
    stream.replication_key = None  # FULL_TABLE
    written = messages(tap.sync_all)
    versions = [m["version"] for m in written if m["type"] == "ACTIVATE_VERSION"]
    assert versions and stream.stream_version == versions[0], (versions, stream.stream_version)


if __name__ == "__main__":
    run(globals())
