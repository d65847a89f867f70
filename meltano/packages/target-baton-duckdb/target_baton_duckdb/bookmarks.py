"""The bookmark guard: a STATE's date/timestamp bookmarks may not lie beyond the loader's start.

A row whose replication key lies in the future (a typo, `infinity`, 9999-12-31) would move the
bookmark there, and every later run would extract nothing. The guard sees every STATE before it
is written: such a `replication_key_value` (at the top of a stream's bookmark, in its
`progress_markers` and in each of its `partitions`) is clamped to the loader's start, or refused.
"""

from __future__ import annotations

import copy
import logging
import re
import typing as t
from datetime import UTC, date, datetime, timedelta

_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PG_OFFSET = re.compile(r"([+-]\d{2})$")  # Postgres' `+00` offset form


class FutureBookmarkError(Exception):
    """A bookmark lies in the future and `future_bookmarks` is `fail`."""


def parse_moment(value: t.Any) -> datetime | None:
    """The instant a bookmark value names, or None when it is not a date or timestamp.

    ISO 8601 dates and timestamps (naive ones read as UTC), Postgres' `... +00` form, and
    `infinity` / `-infinity`.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    lowered = text.lower()
    if lowered in ("infinity", "+infinity"):
        return datetime.max.replace(tzinfo=UTC)
    if lowered == "-infinity":
        return datetime.min.replace(tzinfo=UTC)
    if not _DATE_PREFIX.match(text):
        return None
    candidate = _PG_OFFSET.sub(r"\1:00", text) if len(text) > 10 else text
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None
        if len(text) > 10:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


class BookmarkGuard:
    """Clamps (or refuses) future date/timestamp bookmarks in STATE messages."""

    def __init__(self, started_at: datetime, tolerance_seconds: float, mode: str, logger: logging.Logger):
        self.started_at = started_at.astimezone(UTC)
        self.limit = self.started_at + timedelta(seconds=tolerance_seconds)
        self.mode = mode
        self.logger = logger
        self._warned: set[tuple[str, str, str]] = set()

    def apply(self, state: dict) -> dict:
        """A copy of `state` with future bookmarks clamped; raises in `fail` mode."""
        bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
        if not isinstance(bookmarks, dict):
            return state
        guarded = copy.deepcopy(state)
        for stream, bookmark in guarded["bookmarks"].items():
            self._walk(stream, bookmark, None)
        return guarded

    def _walk(self, stream: str, node: t.Any, key: str | None) -> None:
        if not isinstance(node, dict):
            return
        key = node.get("replication_key") or key
        if "replication_key_value" in node:
            node["replication_key_value"] = self._check(stream, key, node["replication_key_value"])
        self._walk(stream, node.get("progress_markers"), key)
        for partition in node.get("partitions") or []:
            self._walk(stream, partition, key)

    def _check(self, stream: str, key: str | None, value: t.Any) -> t.Any:
        moment = parse_moment(value)
        if moment is None or moment <= self.limit:
            return value
        clamped = (
            self.started_at.date().isoformat() if _DATE_ONLY.match(str(value).strip()) else self.started_at.isoformat()
        )
        what = (
            f"the bookmark of stream '{stream}' (replication key '{key or '?'}') lies in the future: "
            f"{value} is beyond the loader's start {self.started_at.isoformat()} "
            f"(+{(self.limit - self.started_at).total_seconds():.0f} s tolerance)"
        )
        if self.mode == "fail":
            raise FutureBookmarkError(
                f"future bookmark refused: {what}. The rows are loaded, the state is not written. Fix the "
                "row's replication key at the source, or set the loader's future_bookmarks: clamp."
            )
        if (stream, key or "", str(value)) not in self._warned:
            self._warned.add((stream, key or "", str(value)))
            self.logger.warning(
                "%s; the state keeps %s instead (the rows themselves are loaded). Fix the row at the source; "
                "future_bookmarks: fail makes this an error.",
                what,
                clamped,
            )
        return clamped
