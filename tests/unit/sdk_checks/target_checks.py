"""The singer-sdk private members behind target_baton_duckdb/sdk_adapter.py, checked in the loader's own
environment: each check fails if the installed singer-sdk renamed one, changed its signature or stopped
doing what the loader relies on. `python -m tests.unit.sdk_checks.target_checks OUT.json`."""

from __future__ import annotations

import inspect
import io
import json
import signal
import typing as t

from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target
from target_baton_duckdb.sdk_adapter import SinkAdapter, TargetAdapter

from tests.unit.sdk_checks.runner import run

SCHEMA = {"type": "SCHEMA", "stream": "s", "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}
STATE = {"type": "STATE", "value": {"bookmarks": {"s": {"replication_key_value": 1}}}}


class Sink(SinkAdapter):
    def process_record(self, record: dict, context: dict) -> None:
        context.setdefault("records", []).append(record)

    def process_batch(self, context: dict) -> None:
        CURRENT[-1].loaded += context.get("records", [])

    def validate_and_parse(self, record: dict) -> dict:
        CURRENT[-1].calls.append("validate_and_parse")
        return super().validate_and_parse(record)

    def parse_timestamps(self, record: dict, schema: dict, treatment: t.Any) -> None:
        CURRENT[-1].calls.append(f"parse_timestamps:{sorted(schema['properties'])}")
        super().parse_timestamps(record, schema, treatment)


class Recorder(TargetAdapter):
    name = "target-sdk-check"
    default_sink_class = Sink
    config_jsonschema: t.ClassVar[dict] = {"type": "object", "properties": {}}

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.loaded: list[dict] = []
        self.written: list[dict] = []
        super().__init__(config={})

    def handle_message(self, handle: t.Callable[[dict], None], message_dict: dict) -> None:
        self.calls.append(handle.__name__)
        handle(message_dict)

    def on_batch(self, message_dict: dict) -> None:
        pass  # the SDK's BATCH handling reads files: not the loader's

    def write_state(self, state: dict) -> None:
        self.written.append(state)

    def on_termination(self, signum: int, frame: t.Any) -> None:
        self.calls.append(f"on_termination:{signum}")


CURRENT: list[Recorder] = []  # the target the sinks report to


def target() -> Recorder:
    CURRENT.append(Recorder())
    return CURRENT[-1]


def lines(*messages: dict) -> io.StringIO:
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))


def params(member: t.Callable) -> list[str]:
    return list(inspect.signature(member).parameters)


def check_private_members_keep_their_signatures() -> None:
    for kind in ("schema", "record", "state", "batch", "activate_version"):
        assert params(getattr(Target, f"_process_{kind}_message")) == ["self", "message_dict"], kind
    assert params(Target._write_state_message) == ["self", "state"]
    assert params(Target._handle_termination) == ["self", "signum", "frame"]
    assert params(Target._assert_sink_exists) == ["self", "stream_name"]
    assert params(Target._handle_max_record_age) == ["self"]
    assert params(BatchSink._validate_and_parse) == ["self", "record"]
    assert params(BatchSink._parse_timestamps_in_record) == ["self", "record", "schema", "treatment"]


def check_each_message_reaches_its_hook_and_drain_writes_the_latest_state() -> None:
    made = target()
    record = {"type": "RECORD", "stream": "s", "record": {"id": 7}}
    batch = {"type": "BATCH", "stream": "s", "encoding": {"format": "jsonl"}, "manifest": []}
    activate = {"type": "ACTIVATE_VERSION", "stream": "s", "version": 1}
    made.listen(lines(SCHEMA, record, batch, STATE, activate))
    # The record is validated (and its timestamps parsed) by the sink while the SDK handles it.
    expected = ["on_schema", "on_record", "validate_and_parse", "parse_timestamps:['id']", "on_batch", "on_state"]
    assert made.calls == [*expected, "sdk_activate_version"], made.calls
    assert made.loaded == [{"id": 7}], made.loaded  # the end of the input drained the sink
    assert made.latest_state == STATE["value"]
    assert made.written == [STATE["value"]], made.written  # drain_all wrote it through write_state


def check_drain_all_writes_no_state_while_latest_state_is_cleared() -> None:
    made = target()
    made.listen(lines(SCHEMA, STATE))
    made.written.clear()
    made.latest_state = None
    made.drain_all()
    assert made.written == []
    made.latest_state = STATE["value"]
    made.drain_all()
    assert made.written == [STATE["value"]]


def check_active_and_pending_sinks() -> None:
    made = target()
    made.sdk_schema(SCHEMA)
    made.sdk_record({"type": "RECORD", "stream": "s", "record": {"id": 1}})
    assert list(made.active_sinks) == ["s"] and made.active_sinks["s"].current_size == 1
    wider = {**SCHEMA, "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "x": {"type": "string"}}}}
    made.sdk_schema(wider)  # a new schema: the SDK replaces the sink, the old one waits to be drained
    sizes = sorted(sink.current_size for sink in made.pending_sinks())
    assert sizes == [0, 1], sizes


def check_line_and_sink_requirements() -> None:
    made = target()
    try:
        made.require_line({"type": "STATE"}, {"value"})
    except Exception as exc:  # the reader's InvalidInputLine
        assert "value" in str(exc), exc
    else:
        raise AssertionError("a STATE without `value` passed require_line")
    try:
        made.require_sink("unknown")
    except RecordsWithoutSchemaException:
        pass
    else:
        raise AssertionError("require_sink accepted a stream without a SCHEMA")


def check_drain_if_old_drains_every_sink() -> None:
    made = target()
    made.sdk_schema(SCHEMA)
    made.sdk_record({"type": "RECORD", "stream": "s", "record": {"id": 1}})
    made.drain_if_old()
    assert made.loaded == []  # young records stay
    made._MAX_RECORD_AGE_IN_MINUTES = -1
    made.drain_if_old()
    assert made.loaded == [{"id": 1}]


def check_termination_handler_is_the_adapter() -> None:
    made = target()
    handler = signal.getsignal(signal.SIGTERM)
    assert getattr(handler, "__func__", None) is TargetAdapter._handle_termination, handler
    handler(signal.SIGTERM, None)
    assert made.calls == [f"on_termination:{signal.SIGTERM}"], made.calls


if __name__ == "__main__":
    run(globals())
