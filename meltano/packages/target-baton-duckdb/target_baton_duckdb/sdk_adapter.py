"""singer-sdk's private members, in this one module: the rest of the loader uses the names defined here.

singer-sdk (pinned in pyproject.toml) gives a target no public hook per message, no public list of
its sinks and no public way to write a STATE; the loader needs all three for its ordering
guarantees (target.py). Each private member below says which public API it stands in for, or why
there is none; tests/unit/test_sdk_adapters.py fails when the installed singer-sdk changes one of
them (run by the loader's own environment).
"""

from __future__ import annotations

import typing as t

from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.sinks import Sink


class TargetAdapter(Target):
    """singer-sdk's Target, its private members behind public names of the loader."""

    # --- one hook per message -----------------------------------------------------------------------
    # PluginBase.process_lines dispatches each message to these private methods; the SDK has no
    # public per-message hook (only listen/process_lines as a whole, both final). Each goes through
    # `handle_message`, where the loader defers termination to the message boundary.
    def _process_schema_message(self, message_dict: dict) -> None:
        self.handle_message(self.on_schema, message_dict)

    def _process_record_message(self, message_dict: dict) -> None:
        self.handle_message(self.on_record, message_dict)

    def _process_batch_message(self, message_dict: dict) -> None:
        self.handle_message(self.on_batch, message_dict)

    def _process_state_message(self, message_dict: dict) -> None:
        self.handle_message(self.on_state, message_dict)

    def _process_activate_version_message(self, message_dict: dict) -> None:
        self.handle_message(self.sdk_activate_version, message_dict)

    def handle_message(self, handle: t.Callable[[dict], None], message_dict: dict) -> None:
        handle(message_dict)

    def on_schema(self, message_dict: dict) -> None:
        self.sdk_schema(message_dict)

    def on_record(self, message_dict: dict) -> None:
        self.sdk_record(message_dict)

    def on_batch(self, message_dict: dict) -> None:
        super()._process_batch_message(message_dict)

    def on_state(self, message_dict: dict) -> None:
        super()._process_state_message(message_dict)

    # The SDK's own handling of a message (sinks created and fed, stream maps applied): no public form.
    def sdk_schema(self, message_dict: dict) -> None:
        super()._process_schema_message(message_dict)

    def sdk_record(self, message_dict: dict) -> None:
        super()._process_record_message(message_dict)

    def sdk_activate_version(self, message_dict: dict) -> None:
        super()._process_activate_version_message(message_dict)

    # --- the SDK's state -----------------------------------------------------------------------------
    @property
    def latest_state(self) -> dict | None:
        """The latest STATE received (`_latest_state`): drain_all writes it after committing every sink.
        No public accessor; clearing it keeps drain_all from writing a STATE."""
        return self._latest_state

    @latest_state.setter
    def latest_state(self, state: dict | None) -> None:
        self._latest_state = state

    @property
    def active_sinks(self) -> dict[str, Sink]:
        """The sinks by stream (`_sinks_active`). Public per stream: sink_exists + get_sink; nothing
        public lists them all."""
        return self._sinks_active

    def pending_sinks(self) -> list[Sink]:
        """Every sink that may hold records: the active ones and those a new SCHEMA replaced, not yet
        drained (`_sinks_to_clear`, no public accessor)."""
        return [*self._sinks_active.values(), *self._sinks_to_clear]

    def require_line(self, message_dict: dict, requires: set[str]) -> None:
        """The SDK's check of a message's fields (public: its message reader's assert_line_requires)."""
        self.message_reader.assert_line_requires(message_dict, requires)

    def require_sink(self, stream: str) -> None:
        """RecordsWithoutSchemaException, as the SDK raises it, for a stream without a SCHEMA yet
        (`_assert_sink_exists`; public sink_exists only answers yes or no)."""
        self._assert_sink_exists(stream)

    def drain_if_old(self) -> None:
        """The SDK's drain of every sink when a record waited longer than its maximum record age
        (`_handle_max_record_age`, no public form)."""
        self._handle_max_record_age()

    # --- writing STATE and termination ---------------------------------------------------------------
    # drain_all writes the latest STATE through `_write_state_message`; there is no public hook
    # between a drain and the STATE it writes, where the loader applies the bookmark guard.
    def _write_state_message(self, state: dict) -> None:
        self.write_state(state)

    def write_state(self, state: dict) -> None:
        super()._write_state_message(state)

    # PluginBase installs `_handle_termination` as the SIGTERM/SIGINT handler in __init__; no public
    # setting changes what it does (drain from inside the handler, then exit 0).
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        self.on_termination(signum, frame)

    def on_termination(self, signum: int, frame: FrameType | None) -> None:
        super()._handle_termination(signum, frame)


class SinkAdapter(BatchSink):
    """singer-sdk's BatchSink, its private members behind public names of the loader."""

    # Target._process_record_message calls the sink's `_validate_and_parse` for every record; the
    # SDK has no public hook around record validation.
    def _validate_and_parse(self, record: dict) -> dict:
        return self.validate_and_parse(record)

    def validate_and_parse(self, record: dict) -> dict:
        return super()._validate_and_parse(record)

    # `_validate_and_parse` converts timestamp text to datetime objects here; no setting turns that off.
    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: t.Any) -> None:
        self.parse_timestamps(record, schema, treatment)

    def parse_timestamps(self, record: dict, schema: dict, treatment: t.Any) -> None:
        super()._parse_timestamps_in_record(record=record, schema=schema, treatment=treatment)
