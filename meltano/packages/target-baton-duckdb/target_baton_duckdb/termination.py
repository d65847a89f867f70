"""SIGTERM or SIGINT (docker stop, an ECS StopTask, Meltano stopping its plugins) never interrupts the
handling of a message: no commit is cut short and none starts twice. The loader stops at the next
message boundary (at once when it is waiting for input) and exits with 143 (128 + SIGTERM)."""

from __future__ import annotations

import signal
import sys
import typing as t

from target_baton_duckdb.sdk_adapter import TargetAdapter

EXIT_STOPPED = 128 + signal.SIGTERM  # 143, as a process ended by SIGTERM


class _Stop(BaseException):
    """Raised at a message boundary once a termination signal has arrived."""


class StopAtMessageBoundary(TargetAdapter):
    """A target whose termination waits for the end of the message it handles; `stop_at_boundary`
    then says what to do before it exits."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        # The SDK installs the signal handler in __init__: the signal received (None: none), and
        # whether the loader waits between two messages, with nothing half done.
        self._stop_signal: int | None = None
        self._between_messages = False
        super().__init__(*args, **kwargs)

    def stop_at_boundary(self, signum: int) -> None:
        """Commit what was received and write the STATE that covers it (the target adds its report)."""
        self.drain_all()

    def on_termination(self, signum: int, frame: t.Any) -> None:
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

    def handle_message(self, handle: t.Callable[[dict], None], message_dict: dict) -> None:
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
        self.stop_at_boundary(signum)
        self.logger.warning("Stopped by signal %d: every STATE written covers committed rows only", signum)
        sys.exit(EXIT_STOPPED)

    def process_endofpipe(self) -> None:
        self._between_messages = False
        if self._stop_signal is not None:
            # The input ended after a termination signal (the extractor stopped too): not a
            # complete read, so FULL_TABLE streams are not swapped in.
            raise _Stop
        super().process_endofpipe()
