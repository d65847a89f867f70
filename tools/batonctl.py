"""batonctl: the sandbox's command line, talking to Airflow's REST API (/api/v2).

    batonctl up       wait for the DAGs, delete those no longer defined, unpause the others, run
                      the first cycle (once), print the URL
    batonctl run      trigger a cycle, follow every DAG it sets off, print a summary table
    batonctl prune    delete the DAGs the DAG folder no longer defines (a removed source or domain)
    batonctl status   each DAG's latest run

`make up`, `make run` and `make status` call it in a container of the Airflow image on the stack's
network. It signs in as the automation account (role Op: it triggers and follows runs, nothing
more), never as the admin. Settings (compose's cli service sets them): BATON_AIRFLOW_URL,
BATON_AUTOMATION_USER, BATON_AUTOMATION_PASSWORD (required), BATON_AIRFLOW_PUBLIC_URL (the URL
printed for the browser), BATON_AIRFLOW_USER (the admin named there).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

# Wide enough for the summary table when the output is a log, not a terminal.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
TERMINAL = {"success", "failed"}
# After a failure, how long to wait for runs that may still be set off before reporting.
FAILED_GRACE_SECONDS = 30
# Run on demand or on their own schedule: not part of a cycle.
NOT_IN_CYCLE = {"cycle", "meltano_state", "lake_maintenance"}
RAW_PREFIX = "raw_"
# The DAGs one parse of a file writes share one moment (within a second); a DAG the file no longer
# defines keeps the time of the last parse that did, at least one refresh interval (30 s) older.
GONE_LAG_SECONDS = 15
# How long to wait for the dag-processor to parse every DAG file again on request.
REPARSE_TIMEOUT_SECONDS = 300


class StackError(RuntimeError):
    """Something a data engineer must act on; the message says what and where."""


class Airflow:
    """A small client of Airflow's REST API, authenticated with a token from /auth/token (the FAB
    auth manager's: a user name and password in, a JWT out)."""

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        timeout: float = 20.0,
        password_key: str = "BATON_AUTOMATION_PASSWORD",
    ) -> None:
        self.url = url.rstrip("/")
        self.user, self.password = user, password
        # Where the password lives, for messages (never the password itself).
        self.password_key = password_key
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self._token: str | None = None

    def __repr__(self) -> str:  # the password and the token stay out of tracebacks and logs
        return f"Airflow({self.url!r}, user={self.user!r})"

    def _login(self) -> None:
        if not self.password:
            raise StackError(f"{self.password_key} is empty: it is in the stack's env file (compose/.env)")
        resp = self.http.post("/auth/token", json={"username": self.user, "password": self.password})
        if resp.status_code in (400, 401, 403):
            raise StackError(
                f"Airflow at {self.url} refused user {self.user!r}: check {self.password_key} in compose/.env "
                "(a value changed under a running stack takes effect with `make up`)"
            )
        resp.raise_for_status()
        self._token = resp.json()["access_token"]

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._token is None:
            self._login()
        relogged = False
        for attempt in range(1, 6):
            resp = self.http.request(
                method, f"/api/v2{path}", headers={"Authorization": f"Bearer {self._token}"}, **kwargs
            )
            if resp.status_code == 401 and not relogged:  # token expired: log in again once
                self._login()
                relogged = True
                continue
            # A read the server failed to answer (its database restarting, say) is asked again.
            if method == "GET" and resp.status_code >= 500 and attempt < 5:
                time.sleep(2 * attempt)
                continue
            if resp.status_code == 403:
                raise StackError(
                    f"{method} /api/v2{path} -> 403: user {self.user!r} may not do this; "
                    f"its roles do not allow it: {resp.text[:300]}"
                )
            if resp.is_error:
                raise StackError(f"{method} /api/v2{path} -> {resp.status_code}: {resp.text[:500]}")
            return resp.json() if resp.content else None
        raise AssertionError("unreachable")

    def healthy(self) -> bool:
        try:
            resp = self.http.get("/api/v2/monitor/health")
        except httpx.HTTPError:
            return False
        if resp.status_code != 200:
            return False
        health = resp.json()
        return all(health.get(part, {}).get("status") == "healthy" for part in ("metadatabase", "scheduler"))

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if time.monotonic() > deadline:
                raise StackError(f"Airflow at {self.url} is not healthy after {timeout:.0f}s: see `make logs`")
            time.sleep(2)

    def dags(self, stale: bool = False) -> list[dict[str, Any]]:
        """The kit's DAGs; with stale=True also those the dag-processor marked stale (no longer
        found in their file)."""
        params: dict[str, Any] = {"limit": 1000, "tags": "baton"}
        if stale:
            params["exclude_stale"] = False
        return self.request("GET", "/dags", params=params)["dags"]

    def delete_dag(self, dag_id: str) -> None:
        """Delete a DAG's record and its runs (refused while one of its tasks runs)."""
        self.request("DELETE", f"/dags/{dag_id}")

    def reparse(self, file_token: str) -> None:
        """Ask the dag-processor to parse a DAG file again, ahead of its schedule."""
        self.request("PUT", f"/parseDagFile/{file_token}")

    def import_errors(self) -> list[dict[str, Any]]:
        return self.request("GET", "/importErrors", params={"limit": 100})["import_errors"]

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def unpause(self, dag_id: str) -> None:
        self.set_paused(dag_id, False)

    def pause(self, dag_id: str) -> None:
        self.set_paused(dag_id, True)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})

    def runs(self, dag_id: str = "~", **params: Any) -> list[dict[str, Any]]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100, **params})["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def asset_events(self, **params: Any) -> list[dict[str, Any]]:
        return self.request("GET", "/assets/events", params={"limit": 100, **params})["asset_events"]

    def failed_tasks(self, dag_id: str, run_id: str) -> list[str]:
        tis = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        return [ti["task_id"] for ti in tis["task_instances"] if ti["state"] in ("failed", "upstream_failed")]

    def dag_sources(self, dag_id: str) -> set[str] | None:
        """The sources a DAG waits for: the raw_<source> assets of its schedule (a dbt DAG's are
        the sources its models read); None when Airflow does not say."""
        try:
            details = self.request("GET", f"/dags/{dag_id}/details")
        except StackError:
            return None
        expression = (details or {}).get("asset_expression")
        return raw_sources(expression) if expression else None

    def reason(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        """The `reason` XCom a task leaves when it stops a run: a dbt DAG's gate ("marketing did not
        land 2026-11-25: ...") or its failed build ("1 data test failed: in_range_stg_orders_order_total
        (3 rows) (bad data: not retried)"); None when it left none."""
        try:
            entry = self.request(
                "GET",
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/reason",
                params={"deserialize": True, "stringify": False},
            )
        except StackError:
            return None
        value = (entry or {}).get("value")
        return str(value) if value else None


def raw_sources(expression: Any) -> set[str]:
    """The source names of the raw_<source> assets anywhere in a DAG's asset expression (as the
    REST API gives it: nested all/any lists of {"asset": {"name", "uri", ...}})."""
    found: set[str] = set()
    if isinstance(expression, dict):
        name = expression.get("name")
        if isinstance(name, str) and name.startswith(RAW_PREFIX) and "uri" in expression:
            found.add(name.removeprefix(RAW_PREFIX))
        for value in expression.values():
            found |= raw_sources(value)
    elif isinstance(expression, list):
        for value in expression:
            found |= raw_sources(value)
    return found


def client_from_env() -> Airflow:
    """The client of the automation account (BATON_AUTOMATION_USER, role Op)."""
    missing = [
        n for n in ("BATON_AIRFLOW_URL", "BATON_AUTOMATION_USER", "BATON_AUTOMATION_PASSWORD") if not os.environ.get(n)
    ]
    if missing:
        _fail(StackError(f"{', '.join(missing)} not set: run batonctl through make (`make run`), which sets them"))
    return Airflow(
        os.environ["BATON_AIRFLOW_URL"], os.environ["BATON_AUTOMATION_USER"], os.environ["BATON_AUTOMATION_PASSWORD"]
    )


def wait_for_dags(af: Airflow, timeout: float) -> list[dict[str, Any]]:
    """The kit's DAGs once the dag-processor has parsed every file; import errors fail fast."""
    deadline = time.monotonic() + timeout
    while True:
        errors = af.import_errors()
        if errors:
            lines = "\n".join(f"  {e['filename']}:\n    {e['stack_trace'].strip().splitlines()[-1]}" for e in errors)
            raise StackError(f"DAG files fail to import (fix them; the dag-processor re-reads them):\n{lines}")
        dags = af.dags()
        ids = {d["dag_id"] for d in dags}
        if "cycle" in ids and any(i.startswith("ingest_") for i in ids) and any(i.startswith("dbt_") for i in ids):
            return dags
        if time.monotonic() > deadline:
            raise StackError(
                f"after {timeout:.0f}s Airflow lists only {sorted(ids)}: see `make logs SERVICE=dag-processor`"
            )
        time.sleep(2)


def _file(dag: dict[str, Any]) -> tuple[str | None, str | None]:
    return dag.get("bundle_name"), dag.get("relative_fileloc") or dag.get("fileloc")


def gone_dags(dags: list[dict[str, Any]]) -> set[str]:
    """DAGs that no longer exist: marked stale, or left behind by their file's latest parse (its
    other DAGs were parsed at least GONE_LAG_SECONDS later: the file no longer defines them, and
    the dag-processor marks them stale only about a minute later)."""
    newest: dict[tuple[str | None, str | None], datetime] = {}
    for dag in dags:
        parsed = _parse(dag.get("last_parsed_time"))
        if parsed and not dag.get("is_stale"):
            newest[_file(dag)] = max(parsed, newest.get(_file(dag), parsed))

    def left_behind(dag: dict[str, Any]) -> bool:
        parsed = _parse(dag.get("last_parsed_time"))
        return parsed is not None and (newest[_file(dag)] - parsed).total_seconds() > GONE_LAG_SECONDS

    return {d["dag_id"] for d in dags if d.get("is_stale") or left_behind(d)}


def live_dags(af: Airflow) -> list[dict[str, Any]]:
    """The kit's DAGs that exist now: listed, not stale, not left behind by their file's parse."""
    dags = af.dags()
    gone = gone_dags(dags)
    return [d for d in dags if d["dag_id"] not in gone]


@dataclass
class Pruned:
    current: list[dict[str, Any]]  # the DAGs a parse after the request defined
    deleted: list[str]  # the DAGs deleted: no longer defined
    kept: list[str] = field(default_factory=list)  # not deleted: "dag_id: why"


def prune(af: Airflow, timeout: float = REPARSE_TIMEOUT_SECONDS) -> Pruned:
    """Delete the DAGs the DAG folder no longer defines (a source or a domain removed).

    Every DAG file is parsed again on request; a DAG is current when that parse wrote it, gone when
    its file's parse no longer did or the dag-processor marked it stale. Gone DAGs are deleted
    (their runs too), so no cycle triggers or waits on them and no `make up` unpauses them."""
    asked = datetime.now(UTC)
    dags = af.dags(stale=True)
    files = {_file(d): d["file_token"] for d in dags if not d["is_stale"] and d.get("file_token")}
    for token in files.values():
        af.reparse(token)
    deadline = time.monotonic() + timeout
    while True:
        dags = af.dags(stale=True)
        fresh = {_file(d) for d in dags if (_parse(d.get("last_parsed_time")) or asked) > asked and not d["is_stale"]}
        if set(files) <= fresh or time.monotonic() > deadline:
            break
        time.sleep(2)
    current, gone, unsure = [], [], []
    for dag in dags:
        parsed = _parse(dag.get("last_parsed_time"))
        if dag["is_stale"]:
            gone.append(dag["dag_id"])
        elif _file(dag) not in fresh:
            unsure.append(dag["dag_id"])  # its file was not parsed again in time: left as it is
        elif parsed and parsed > asked:
            current.append(dag)
        else:
            gone.append(dag["dag_id"])
    result = Pruned(current=current, deleted=[])
    for dag_id in sorted(gone):
        try:
            af.delete_dag(dag_id)
            result.deleted.append(dag_id)
        except StackError as exc:
            af.pause(dag_id)
            result.kept.append(f"{dag_id}: paused, not deleted ({exc})")
    result.kept += [f"{d}: its file was not parsed again within {timeout:.0f}s" for d in sorted(unsure)]
    return result


def report_pruned(pruned: Pruned) -> None:
    if pruned.deleted:
        console.print(f"deleted {len(pruned.deleted)} DAGs no longer defined: {', '.join(pruned.deleted)}")
    for line in pruned.kept:
        console.print(f"[yellow]warning:[/] {line}")


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


def _parse(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts) if ts else None


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
        started = af.trigger("cycle", {"cycle_id": cycle_id} if cycle_id else {})
        since = started["run_after"]
    else:
        # Runs this cycle sets off are created after it starts (or, if it has not, after now).
        started = run
        since = run["start_date"] or datetime.now(UTC).isoformat()
    result = CycleResult(cycle_id=cycle_id, expected=expected)
    result.runs["cycle"] = started
    seen: dict[str, str] = {}
    settled: float | None = None
    deadline = time.monotonic() + timeout
    checked = time.monotonic()

    def say(dag_id: str, state: str) -> None:
        if not quiet and seen.get(dag_id) != state:
            console.print(f"{datetime.now(UTC):%H:%M:%S}  {dag_id:<22} {state}")
        seen[dag_id] = state

    say("cycle", started["state"])
    while True:
        result.runs["cycle"] = af.run("cycle", started["dag_run_id"])
        say("cycle", result.runs["cycle"]["state"])
        # Each DAG's first run after the trigger belongs to this cycle; follow that run.
        for run in af.runs(run_after_gte=since, order_by="run_after"):
            known = result.runs.get(run["dag_id"])
            if run["dag_id"] in expected and (known is None or known["dag_run_id"] == run["dag_run_id"]):
                result.runs[run["dag_id"]] = run
                say(run["dag_id"], run["state"])
        if result.runs["cycle"]["state"] == "failed":
            break
        # A DAG deleted or no longer defined meanwhile (a source removed) is not waited on.
        waiting = any(result.runs.get(d, {}).get("state") not in TERMINAL for d in expected)
        if waiting and time.monotonic() - checked > 10:
            checked = time.monotonic()
            live = set(in_cycle())
            for dag_id in [d for d in expected if d not in live]:
                expected.remove(dag_id)
                result.runs.pop(dag_id, None)
                say(dag_id, "no longer exists: not waited on")
            result.expected = expected
        if all(d in result.runs and result.runs[d]["state"] in TERMINAL for d in expected):
            break
        # A failed load never sets off the domains that wait for it: once something failed and
        # nothing is left running, give late runs a grace period, then stop waiting.
        states = [r["state"] for r in result.runs.values()]
        if "failed" in states and all(st in TERMINAL for st in states):
            settled = settled or time.monotonic()
            if time.monotonic() - settled > FAILED_GRACE_SECONDS:
                break
        else:
            settled = None
        if time.monotonic() > deadline:
            waiting = [d for d in expected if result.runs.get(d, {}).get("state") not in TERMINAL]
            raise StackError(f"the cycle did not finish within {timeout:.0f}s; still waiting for {waiting}")
        time.sleep(2)
    for dag_id, run in result.runs.items():
        if dag_id.startswith("ingest_"):
            events = af.asset_events(source_dag_id=dag_id, source_run_id=run["dag_run_id"])
            result.rows[dag_id] = next((e["extra"].get("rows") for e in events if "rows" in (e["extra"] or {})), None)
        elif dag_id.startswith("dbt_") and run["state"] == "failed":
            reason = af.reason(dag_id, run["dag_run_id"], "build")  # its gate's or its build's reason
            if reason:
                result.reasons[dag_id] = reason
    if result.cycle_id is None:
        events = af.asset_events(source_dag_id="cycle", source_run_id=started["dag_run_id"])
        result.cycle_id = next((e["extra"].get("cycle_id") for e in events), None)
    return result


def summary(af: Airflow, result: CycleResult) -> Table:
    table = Table(title=f"cycle {result.cycle_id or '?'}")
    for col in ("DAG", "state", "duration", "rows"):
        table.add_column(col, justify="right" if col in ("duration", "rows") else "left")
    for dag_id, run in sorted(result.runs.items(), key=lambda kv: (kv[1].get("start_date") or "", kv[0])):
        start, end = _parse(run.get("start_date")), _parse(run.get("end_date"))
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
    ingested = {d.removeprefix("ingest_"): r["state"] for d, r in result.runs.items() if d.startswith("ingest_")}
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


app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0])


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(1)


@app.command()
def up(
    follow: bool = typer.Option(True, help="follow the first cycle to its end"),
    timeout: float = typer.Option(1800, help="seconds to wait for the first cycle"),
) -> None:
    """Unpause the kit's DAGs and start the first cycle (only if none ran yet)."""
    af = client_from_env()
    try:
        af.wait_healthy(180)
        wait_for_dags(af, 300)
        # DAGs of removed sources and domains go first: never unpaused, never triggered.
        pruned = prune(af)
        report_pruned(pruned)
        dags = pruned.current
        if not any(d["dag_id"] == "cycle" for d in dags):
            raise StackError(
                "the dag-processor did not parse the cycle DAG again on request: see `make logs SERVICE=dag-processor`"
            )
        # The cycle last: everything it sets off must be listening when it runs.
        cycle_was_paused = next(d["is_paused"] for d in dags if d["dag_id"] == "cycle")
        for dag in sorted(dags, key=lambda d: d["dag_id"] == "cycle"):
            if dag["is_paused"]:
                af.unpause(dag["dag_id"])
        if cycle_was_paused:
            # With catchup off, unpausing opens the most recent cycle; give the scheduler a moment.
            deadline = time.monotonic() + 30
            while not af.runs("cycle", limit=1) and time.monotonic() < deadline:
                time.sleep(2)
        console.print(f"{len(dags)} DAGs unpaused: {', '.join(sorted(d['dag_id'] for d in dags))}")
        first = next(iter(af.runs("cycle", limit=1)), None) if cycle_was_paused else None
        if cycle_was_paused and first is None:  # the schedule opened no cycle when unpaused
            first = af.trigger("cycle")
        if first is not None:
            console.print(f"the first cycle runs ({first['dag_run_id']})")
            if follow:
                result = follow_cycle(af, timeout=timeout, run=first)
                console.print(summary(af, result))
                if not result.ok:
                    raise StackError("the first cycle failed: see the table above and the task logs in the UI")
    except (StackError, httpx.HTTPError) as exc:
        _fail(exc)
    public = os.environ.get("BATON_AIRFLOW_PUBLIC_URL", af.url)
    console.print(login_hint(public, os.environ.get("BATON_AIRFLOW_USER") or "admin"))


def login_hint(url: str, user: str) -> str:
    """Where to sign in. It names where the admin's password is and never shows it: not on a
    terminal either (this process does not even hold it), so no log or screen capture has it."""
    return (
        f"\nAirflow: [bold]{url}[/]  user [bold]{user}[/]; the password is BATON_AIRFLOW_PASSWORD in the "
        "stack's env file (compose/.env by default)\nmore users: make user NAME=<name> ROLE=Viewer|User|Op|Admin"
    )


@app.command()
def run(
    cycle_id: str = typer.Option(None, help="the day to (re)run, YYYY-MM-DD; default: yesterday"),
    timeout: float = typer.Option(3600, help="seconds to wait for the cycle"),
) -> None:
    """Trigger a cycle, show each DAG's progress, end with a summary; exit 1 if any run failed."""
    af = client_from_env()
    try:
        result = follow_cycle(af, cycle_id=cycle_id, timeout=timeout)
    except (StackError, httpx.HTTPError) as exc:
        _fail(exc)
    console.print(summary(af, result))
    if not result.ok:
        detail = "\n  ".join(failure_lines(result))
        _fail(StackError(f"the cycle failed:\n  {detail}\nthe task logs are in the UI (Grid view) or `make logs`"))


@app.command(name="prune")
def prune_command() -> None:
    """Delete the DAGs the DAG folder no longer defines (a removed source or domain) and their runs."""
    af = client_from_env()
    try:
        af.wait_healthy(60)
        pruned = prune(af)
    except (StackError, httpx.HTTPError) as exc:
        _fail(exc)
    report_pruned(pruned)
    if not pruned.deleted:
        console.print("every DAG is still defined: nothing deleted")


@app.command()
def status() -> None:
    """Each DAG's latest run: state, start, duration."""
    af = client_from_env()
    try:
        dags = af.dags()
        table = Table(title="DAGs")
        for col in ("DAG", "paused", "latest run", "state", "duration"):
            table.add_column(col)
        for dag in sorted(dags, key=lambda d: d["dag_id"]):
            runs = af.runs(dag["dag_id"], limit=1, order_by="-run_after")
            last = runs[0] if runs else {}
            duration = f"{last['duration']:.0f}s" if last.get("duration") else "-"
            table.add_row(
                dag["dag_id"],
                "yes" if dag["is_paused"] else "no",
                last.get("run_after", "-")[:19],
                last.get("state", "-"),
                duration,
            )
    except (StackError, httpx.HTTPError) as exc:
        _fail(exc)
    console.print(table)


if __name__ == "__main__":
    sys.exit(app())
