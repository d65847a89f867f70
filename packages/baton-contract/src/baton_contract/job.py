"""What a job of the jobs image promises the runner that starts it.

Exit codes:
    0  ok
    1  the job failed (a transient fault is likely): retried with backoff
    2  bad configuration: not retried, a retry would not help
    3  bad data (a reconciliation mismatch, a value that cannot be loaded, a failed data test):
       not retried
   75  stopped by SIGTERM at a batch boundary (EX_TEMPFAIL): what it committed is kept; retried at once
The job's last result line is `BATON_RESULT: {json}`; the runner returns it as the task's result.
The loader reports each stream as `baton-loader: {json}`; the extractor counts records in
singer-sdk `METRIC: {json}` lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_DATA, EXIT_STOPPED = 0, 1, 2, 3, 75
PERMANENT_EXIT_CODES = {EXIT_CONFIG: "bad configuration", EXIT_DATA: "bad data"}

RESULT_PREFIX = "BATON_RESULT: "
LOADER_LINE = re.compile(r"baton-loader: (\{.*)")
METRIC_LINE = re.compile(r"METRIC: (\{.*)")


def cycle_build(*select: str) -> list[str]:
    """The job command of a cycle's dbt build: the models and their data tests. dbt's unit tests
    check the models' SQL against fixed rows, the same in every cycle: they run where the SQL
    changes (`make dbt CMD=build`, the integration tests), not on each day's data."""
    return ["dbt", "build", *select, "--exclude-resource-type", "unit_test"]


def result_line(result: dict[str, Any]) -> str:
    """The line a job ends with."""
    return RESULT_PREFIX + json.dumps(result, sort_keys=True)


def json_after(match: re.Match[str]) -> dict[str, Any] | None:
    """The JSON object that starts at a report line's first group (text after it ignored)."""
    try:
        value, _ = json.JSONDecoder().raw_decode(match.group(1))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def baton_result(lines: Iterable[str]) -> dict[str, Any] | None:
    """The last `BATON_RESULT: {json}` line of a job's output, parsed; None when there is none."""
    for line in reversed(list(lines)):
        at = line.find(RESULT_PREFIX)
        if at < 0:
            continue
        try:
            value = json.loads(line[at + len(RESULT_PREFIX) :])
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def records_read(lines: Iterable[str]) -> dict[str, int]:
    """Records the extractor emitted per stream, summed from its record_count METRIC lines."""
    read: dict[str, int] = {}
    for line in lines:
        match = METRIC_LINE.search(line)
        metric = json_after(match) if match else None
        if metric and metric.get("metric") == "record_count":
            stream = (metric.get("tags") or {}).get("stream", "")
            read[stream] = read.get(stream, 0) + int(metric.get("value", 0))
    return read


def loader_reports(lines: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The loader's last report per stream (`baton-loader: {"stream": ..., "rows": ...}`)."""
    reports: dict[str, dict[str, Any]] = {}
    for line in lines:
        match = LOADER_LINE.search(line)
        report = json_after(match) if match else None
        if report and "stream" in report:
            reports[report["stream"]] = report
    return reports


def job_result(lines: Iterable[str]) -> dict[str, Any] | None:
    """What a job task returns: its BATON_RESULT, else {"rows": n} from METRIC lines, else None."""
    lines = list(lines)
    result = baton_result(lines)
    if result is not None:
        return result
    read = records_read(lines)
    return {"rows": sum(read.values())} if read else None
