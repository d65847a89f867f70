"""What every runner shares: the job's output -> the task's result, and its exit code -> the task's
failure (final, retried at once, or retried after baton.yml's growing delay).

The job contract itself (exit codes 2 and 3, the `BATON_RESULT:` line, the METRIC lines) lives in
baton_contract.job; this module maps it onto Airflow.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.definitions.retry_policy import ExceptionRetryPolicy, RetryAction, RetryRule
from airflow.sdk.exceptions import AirflowFailException
from baton_contract import job
from baton_contract.job import PERMANENT_EXIT_CODES

# Exit codes of a job that was stopped rather than failed: 75 (el.py: SIGTERM, stopped at a batch
# boundary), 137 (SIGKILL), 143 (SIGTERM, a job that does not catch it).
INTERRUPTED_EXIT_CODES = {75: "stopped at a batch boundary", 137: "killed (SIGKILL)", 143: "stopped (SIGTERM)"}
TAIL_LINES = 15
# Lines of a job's output a runner keeps to read its result from (the whole output is in the log).
KEPT_LINES = 5000
COMMANDS = ("el", "meltano", "dbt", "state")


class JobInterrupted(RuntimeError):
    """The job was stopped or killed from outside (docker stop/kill, ECS StopTask, a Spot
    interruption), not failed: retried at once (RETRY_AT_ONCE), within the task's retries."""


# Every job task's retry policy: an interrupted job goes again at once instead of after a delay.
RETRY_AT_ONCE = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=JobInterrupted,
            action=RetryAction.RETRY,
            retry_delay=timedelta(0),
            reason="the job was stopped, not failed: retrying at once",
        )
    ]
)


def check_command(command: Sequence[str]) -> None:
    if not command or command[0] not in COMMANDS:
        raise ValueError(f"the jobs image runs el, meltano, dbt or state commands, not {list(command)!r}")


def out_of_memory(command: Sequence[str], limit: str, setting: str, where: str = "") -> AirflowFailException:
    """The final failure of a job the OOM killer stopped: names the job, its limit, the setting to raise."""
    return AirflowFailException(
        f"`{' '.join(command)}`{where} ran out of memory: its limit is {limit}. Raise {setting} "
        "(DuckDB follows the limit: BATON_DUCKDB_MEMORY_LIMIT is 75% of it and spills the rest to disk). "
        "Not retried: it would run out again"
    )


def job_failed(command: Sequence[str], code: int, tail: Iterable[str], where: str = "") -> Exception:
    """The exception for a job that exited with `code`: final for 2 and 3, JobInterrupted (retried
    at once) for 75, 137 and 143, retryable after a delay otherwise."""
    last = "\n".join(list(tail)[-TAIL_LINES:])
    message = f"`{' '.join(command)}` exited with code {code}{where}:\n{last}"
    if code in PERMANENT_EXIT_CODES:
        return AirflowFailException(f"{message}\n({PERMANENT_EXIT_CODES[code]}: not retried, a retry would not help)")
    if code in INTERRUPTED_EXIT_CODES:
        return JobInterrupted(f"{message}\n({INTERRUPTED_EXIT_CODES[code]}: retried at once)")
    return RuntimeError(message)


# --- the job's output -> its result --------------------------------------------------------------
def output_lines(output: object) -> list[str]:
    """A job's output as lines, whether it came as text, a list of lines or nothing."""
    if not output:
        return []
    return [str(line) for line in output] if isinstance(output, (list, tuple, deque)) else str(output).splitlines()


def baton_result(output: object) -> dict[str, Any] | None:
    """The last `BATON_RESULT: {json}` line of a job's output, parsed; None when there is none."""
    return job.baton_result(output_lines(output))


def rows_loaded(output: object) -> int | None:
    """Rows the extractor emitted, summed from its record_count metrics; None when unknown."""
    read = job.records_read(output_lines(output))
    return sum(read.values()) if read else None


def job_result(output: object) -> dict[str, Any] | None:
    """What a job task returns: its BATON_RESULT, else {"rows": n} from METRIC lines, else None."""
    return job.job_result(output_lines(output))


class JobOperator(BaseOperator):
    """An operator that runs one job command here or in a container, logging its output and keeping
    its last KEPT_LINES lines to read the result from."""

    template_fields: Sequence[str] = ("command", "env")

    def __init__(self, *, command: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.command = command
        self.env = env or {}

    def log_lines(self, lines: Iterable[str]) -> list[str]:
        """Each line into the task log; the last KEPT_LINES back."""
        tail: deque[str] = deque(maxlen=KEPT_LINES)
        for line in lines:
            self.log.info("%s", line)
            tail.append(line)
        return list(tail)
