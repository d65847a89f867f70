"""singer-sdk's private members, in this one module: the rest of the extractor uses the names defined here.

The COPY export path (streams.py) replaces a stream's RECORD messages with BATCH messages and writes
the stream's STATE itself; singer-sdk (pinned in pyproject.toml) offers no public hook for either.
Each private member below says which public API it stands in for, or why there is none;
tests/unit/test_sdk_adapters.py fails when the installed singer-sdk changes one of them (run by the
extractor's own environment).
"""

from __future__ import annotations

import typing as t

# The BATCH message and its encoding, as the SDK writes them (Stream._sync_batches): singer_sdk's
# public singerlib.messages has no BATCH message type.
from singer_sdk.helpers._batch import BaseBatchFileEncoding, SDKBatchMessage

# How the SDK writes a replication key value into a bookmark (datetimes as ISO text, naive ones as UTC,
# UUIDs as text), so the COPY path's bookmark reads as the record path's; no public form.
from singer_sdk.helpers._typing import to_json_compatible

if t.TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

__all__ = ["BaseBatchFileEncoding", "SDKBatchMessage", "StreamAdapter", "to_json_compatible"]


class StreamAdapter:
    """A mixin for singer-sdk streams: their private members behind public names of the extractor."""

    # Stream.sync calls `_sync_records`, which reads the records and writes their RECORD messages; the
    # SDK has no public hook to sync a stream another way (its public get_batches still reads every
    # record in Python).
    def _sync_records(
        self,
        context: Context | None = None,
        *,
        write_messages: bool = True,
    ) -> t.Generator[dict, t.Any, t.Any]:
        if write_messages and self.sync_instead_of_records(context):
            return
        yield from super()._sync_records(context, write_messages=write_messages)  # type: ignore[misc]

    def sync_instead_of_records(self, context: Context | None) -> bool:
        """Sync the stream another way than RECORD messages: True if it did."""
        return False

    @property
    def tap(self) -> Tap:
        """The stream's tap (`_tap`; a stream has no public reference to it), to write messages with."""
        return self._tap  # type: ignore[attr-defined]

    @property
    def stream_version(self) -> int | None:
        """The version of this FULL_TABLE sync that ACTIVATE_VERSION announced (`_stream_version`, set by
        Stream.sync; no public accessor), None without one."""
        return getattr(self, "_stream_version", None)

    def write_starting_replication_value(self, context: Context | None) -> None:
        """Record the bookmark the sync starts from, so get_starting_replication_key_value answers
        (`_write_starting_replication_value`, which Stream.sync calls before `_sync_records`)."""
        self._write_starting_replication_value(context)  # type: ignore[attr-defined]

    def finalize_and_write_state(self) -> None:
        """Promote the stream's state to its final bookmark and write the STATE message (`_finalize_state`
        and `_write_state_message`). The public finalize_state_progress_markers does both only for a
        non-empty state: for an empty one it finalizes the partitions' markers instead."""
        self._finalize_state(self.stream_state)  # type: ignore[attr-defined]
        self._write_state_message()  # type: ignore[attr-defined]
