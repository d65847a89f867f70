"""batonctl's commands (up, run, prune, status): what they print, and their exit codes."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime

import httpx
import typer
from baton_contract.naming import CYCLE
from baton_contract.waiting import WaitTimeout, poll
from rich.table import Table

from .api import POLL_SECONDS, Airflow, StackError
from .cycle import console, failure_lines, follow_cycle, summary
from .dags import Pruned, prune, wait_for_dags

# With catchup off, unpausing the cycle opens the most recent cycle: how long to give the scheduler.
FIRST_CYCLE_SECONDS = 30


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


def report_pruned(pruned: Pruned) -> None:
    if pruned.deleted:
        console.print(f"deleted {len(pruned.deleted)} DAGs no longer defined: {', '.join(pruned.deleted)}")
    for line in pruned.kept:
        console.print(f"[yellow]warning:[/] {line}")


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="batonctl: the sandbox's command line, talking to Airflow's REST API (/api/v2).",
)


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(1)


@app.command()
def up(
    follow: bool = typer.Option(True, help="follow the first cycle to its end"),
    timeout: float = typer.Option(1800, help="seconds to wait for the first cycle"),
    files_since: float | None = typer.Option(
        None,
        help="epoch seconds after which the DAG files did not change (make up passes its start): "
        "a file the dag-processor parsed since is not parsed again",
    ),
) -> None:
    """Unpause the kit's DAGs and start the first cycle (only if none ran yet)."""
    af = client_from_env()
    try:
        af.wait_healthy(180)
        wait_for_dags(af, 300)
        # DAGs of removed sources and domains go first: never unpaused, never triggered.
        pruned = prune(af, parsed_since=datetime.fromtimestamp(files_since, UTC) if files_since else None)
        report_pruned(pruned)
        dags = pruned.current
        if not any(d["dag_id"] == CYCLE for d in dags):
            raise StackError(
                "the dag-processor did not parse the cycle DAG again on request: see `make logs SERVICE=dag-processor`"
            )
        # The cycle last: everything it sets off must be listening when it runs.
        cycle_was_paused = next(d["is_paused"] for d in dags if d["dag_id"] == CYCLE)
        for dag in sorted(dags, key=lambda d: d["dag_id"] == CYCLE):
            if dag["is_paused"]:
                af.unpause(dag["dag_id"])
        if cycle_was_paused:
            with contextlib.suppress(WaitTimeout):
                poll(lambda: af.runs(CYCLE, limit=1), timeout=FIRST_CYCLE_SECONDS, every=POLL_SECONDS, what="a cycle")
        console.print(f"{len(dags)} DAGs unpaused: {', '.join(sorted(d['dag_id'] for d in dags))}")
        first = next(iter(af.runs(CYCLE, limit=1)), None) if cycle_was_paused else None
        if cycle_was_paused and first is None:  # the schedule opened no cycle when unpaused
            first = af.trigger(CYCLE)
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
