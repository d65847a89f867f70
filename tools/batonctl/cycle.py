"""A cycle as batonctl follows it: the cycle DAG triggered (or found running), every DAG it sets off
followed to its end, and what the summary says about each."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from baton_contract.naming import CYCLE, DBT_PREFIX, INGEST_PREFIX
from baton_contract.waiting import WaitTimeout, poll
from rich.console import Console
from rich.table import Table

from .api import POLL_SECONDS, Airflow, StackError
from .dags import live_dags, parse_time

# Wide enough for the summary table when the output is a log, not a terminal.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
TERMINAL = {"success", "failed"}
# After a failure, how long to wait for runs that may still be set off before reporting.
FAILED_GRACE_SECONDS = 30
# Run on demand or on their own schedule: not part of a cycle.
NOT_IN_CYCLE = {CYCLE, "meltano_state", "lake_maintenance"}
# How often a cycle being followed looks again for DAGs deleted or no longer defined meanwhile.
LIVE_CHECK_SECONDS = 10


@dataclass
class CycleResult:
    cycle_id: str | None
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # dag_id -> its run in this cycle
    rows: dict[str, int | None] = field(default_factory=dict)  # dag_id -> rows loaded (ingestion)
    reasons: dict[str, str] = field(default_factory=dict)  # dag_id -> why its run stopped (a gate's or build's reason)
    sources: dict[str, set[str] | None] = field(default_factory=dict)  # dag_id -> the sources it waits for

    expected: list[str] = field(default_factory=list)  # the DAGs a complete cycle runs

    @property
    def ok(self) -> bool:
        return set(self.expected) <= set(self.runs) and all(r["state"] == "success" for r in self.runs.values())


def follow_cycle(
    af: Airflow,
    cycle_id: str | None = None,
    timeout: float = 3600,
    quiet: bool = False,
    run: dict[str, Any] | None = None,
) -> CycleResult:
    """Trigger the cycle DAG (or take `run`, a cycle run already there) and follow every DAG it
    sets off until all have finished."""

    def in_cycle() -> list[str]:
        return sorted(d["dag_id"] for d in live_dags(af) if d["dag_id"] not in NOT_IN_CYCLE and not d["is_paused"])

    expected = in_cycle()
    if not expected:
        raise StackError("no unpaused ingestion or dbt DAGs: run `make up` first")
    if run is None:
        started = af.trigger(CYCLE, {"cycle_id": cycle_id} if cycle_id else {})
        since = started["run_after"]
    else:
        # Runs this cycle sets off are created after it starts (or, if it has not, after now).
        started = run
        since = run["start_date"] or datetime.now(UTC).isoformat()
    result = CycleResult(cycle_id=cycle_id, expected=expected)
    result.runs[CYCLE] = started
    seen: dict[str, str] = {}
    settled: float | None = None
    checked = time.monotonic()

    def say(dag_id: str, state: str) -> None:
        if not quiet and seen.get(dag_id) != state:
            console.print(f"{datetime.now(UTC):%H:%M:%S}  {dag_id:<22} {state}")
        seen[dag_id] = state

    say(CYCLE, started["state"])

    def over() -> bool:
        nonlocal settled, checked
        result.runs[CYCLE] = af.run(CYCLE, started["dag_run_id"])
        say(CYCLE, result.runs[CYCLE]["state"])
        # Each DAG's first run after the trigger belongs to this cycle; follow that run.
        for run in af.runs(run_after_gte=since, order_by="run_after"):
            known = result.runs.get(run["dag_id"])
            if run["dag_id"] in expected and (known is None or known["dag_run_id"] == run["dag_run_id"]):
                result.runs[run["dag_id"]] = run
                say(run["dag_id"], run["state"])
        if result.runs[CYCLE]["state"] == "failed":
            return True
        # A DAG deleted or no longer defined meanwhile (a source removed) is not waited on.
        waiting = any(result.runs.get(d, {}).get("state") not in TERMINAL for d in expected)
        if waiting and time.monotonic() - checked > LIVE_CHECK_SECONDS:
            checked = time.monotonic()
            live = set(in_cycle())
            for dag_id in [d for d in expected if d not in live]:
                expected.remove(dag_id)
                result.runs.pop(dag_id, None)
                say(dag_id, "no longer exists: not waited on")
            result.expected = expected
        if all(d in result.runs and result.runs[d]["state"] in TERMINAL for d in expected):
            return True
        # A failed load never sets off the domains that wait for it: once something failed and
        # nothing is left running, give late runs a grace period, then stop waiting.
        states = [r["state"] for r in result.runs.values()]
        if "failed" in states and all(st in TERMINAL for st in states):
            settled = settled or time.monotonic()
            return time.monotonic() - settled > FAILED_GRACE_SECONDS
        settled = None
        return False

    try:
        poll(over, timeout=timeout, every=POLL_SECONDS, what="the cycle")
    except WaitTimeout:
        waiting = [d for d in expected if result.runs.get(d, {}).get("state") not in TERMINAL]
        raise StackError(f"the cycle did not finish within {timeout:.0f}s; still waiting for {waiting}") from None
    for dag_id, run in result.runs.items():
        if dag_id.startswith(INGEST_PREFIX):
            events = af.asset_events(source_dag_id=dag_id, source_run_id=run["dag_run_id"])
            result.rows[dag_id] = next((e["extra"].get("rows") for e in events if "rows" in (e["extra"] or {})), None)
        elif dag_id.startswith(DBT_PREFIX) and run["state"] == "failed":
            reason = af.reason(dag_id, run["dag_run_id"], "build")  # its gate's or its build's reason
            if reason:
                result.reasons[dag_id] = reason
    if result.cycle_id is None:
        events = af.asset_events(source_dag_id=CYCLE, source_run_id=started["dag_run_id"])
        result.cycle_id = next((e["extra"].get("cycle_id") for e in events), None)
    return result


def summary(af: Airflow, result: CycleResult) -> Table:
    table = Table(title=f"cycle {result.cycle_id or '?'}")
    for col in ("DAG", "state", "duration", "rows"):
        table.add_column(col, justify="right" if col in ("duration", "rows") else "left")
    for dag_id, run in sorted(result.runs.items(), key=lambda kv: (kv[1].get("start_date") or "", kv[0])):
        start, end = parse_time(run.get("start_date")), parse_time(run.get("end_date"))
        duration = f"{(end - start).total_seconds():.0f}s" if start and end else "-"
        state = run["state"]
        if state == "failed":
            state += f" ({', '.join(af.failed_tasks(dag_id, run['dag_run_id'])) or '?'})"
            if dag_id in result.reasons:
                state += f": {result.reasons[dag_id]}"
        rows = result.rows.get(dag_id)
        table.add_row(dag_id, state, duration, "-" if rows is None else f"{rows:,}")
    for dag_id in sorted(set(result.expected) - set(result.runs)):
        if dag_id not in result.sources:  # failure_lines reads them too
            result.sources[dag_id] = af.dag_sources(dag_id)
        table.add_row(dag_id, f"not run ({not_run_reason(result, dag_id)})", "-", "-")
    return table


def not_run_reason(result: CycleResult, dag_id: str | None = None) -> str:
    """Why `dag_id` did not run: its own sources that did not land this cycle (failed, or not run
    at all). When its sources are unknown, every source that failed."""
    cycle = result.cycle_id or "this cycle"
    reads = result.sources.get(dag_id) if dag_id else None
    ingested = {
        d.removeprefix(INGEST_PREFIX): r["state"] for d, r in result.runs.items() if d.startswith(INGEST_PREFIX)
    }
    if reads is None:
        lost = sorted(s for s, state in ingested.items() if state == "failed")
        return f"{', '.join(lost)} did not land {cycle}" if lost else "its sources did not land"
    lost = sorted(s for s in reads if ingested.get(s) != "success")
    if lost:
        return f"{', '.join(lost)} did not land {cycle}"
    if reads:
        landed = ", ".join(sorted(reads))
        return f"its sources ({landed}) landed {cycle} but it did not start: see `make logs SERVICE=scheduler`"
    return "it did not start: see `make logs SERVICE=scheduler`"


def failure_lines(result: CycleResult) -> list[str]:
    """One line per DAG that did not succeed, with the reason where one is known."""
    lines = []
    for dag_id, run in sorted(result.runs.items()):
        if run["state"] != "success":
            lines.append(f"{dag_id}: {result.reasons.get(dag_id, run['state'])}")
    lines += [f"{d}: not run ({not_run_reason(result, d)})" for d in sorted(set(result.expected) - set(result.runs))]
    return lines
