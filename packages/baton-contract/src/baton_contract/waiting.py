"""Retries and waits, written once on tenacity: every loop of the kit that tries again or waits
for a state goes through `retry` or `poll`, so its limits are stated in one place each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_fixed,
)

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """A poll ran out of time; the message names what it waited for."""


def _delays(delays: Sequence[float]) -> Callable[[RetryCallState], float]:
    return lambda state: delays[min(state.attempt_number, len(delays)) - 1]


def retry(
    fn: Callable[[], T],
    *,
    delays: Sequence[float],
    when: Callable[[BaseException], bool],
    before_sleep: Callable[[BaseException, int, float], None] | None = None,
) -> T:
    """fn(), tried again after each of `delays` (seconds) while it raises an exception `when`
    accepts; the last exception propagates. `before_sleep(exc, next_attempt, delay)` reports."""

    def report(state: RetryCallState) -> None:
        if before_sleep is not None and state.outcome is not None and state.next_action is not None:
            before_sleep(state.outcome.exception(), state.attempt_number + 1, state.next_action.sleep)

    return Retrying(
        stop=stop_after_attempt(len(delays) + 1),
        wait=_delays(delays) if delays else wait_fixed(0),
        retry=retry_if_exception(when),
        before_sleep=report,
        reraise=True,
    )(fn)


def poll(check: Callable[[], T], *, timeout: float, every: float, what: str) -> T:
    """check() every `every` seconds until it returns something truthy, which is returned; after
    `timeout` seconds a WaitTimeout naming `what`."""
    try:
        return Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(every),
            retry=retry_if_result(lambda value: not value),
        )(check)
    except RetryError:
        raise WaitTimeout(f"{what}: not within {timeout:g} s") from None
