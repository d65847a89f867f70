"""Fault drills on the sandbox: a failed source, a killed scheduler, a restarted metadata database,
an earlier day run again, a job container killed or stopped in the middle of a 1M-row load. Each
drill breaks something while a cycle runs through the real scheduler
and job containers, then checks outcomes: DAG states, raw = source counts, no duplicate keys,
asset events, times. Runs after test_stack.py on the same stack (brought up again if it is down).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from samples.generate import write_ad_spend
from tests.stack.conftest import Stack, report
from tools.batonctl import CycleResult, failure_lines, follow_cycle

pytestmark = pytest.mark.timeout(2400)


@pytest.fixture(scope="module")
def live(stack: Stack) -> Stack:
    if stack.unhealthy_services() or not stack.docker.containers.list(
        filters={"label": f"com.docker.compose.project={stack.env['BATON_PROJECT']}", "status": "running"}
    ):
        stack.make("up")
    return stack


def _states(result: CycleResult) -> dict[str, str]:
    return {dag_id: run["state"] for dag_id, run in result.runs.items()}


def _job_containers(stack: Stack, dag_id: str) -> list:
    """Running job containers that the stack's runner started for `dag_id`."""
    found = stack.docker.containers.list(filters={"label": f"baton.project={stack.env['BATON_PROJECT']}"})
    return [c for c in found if c.labels.get("baton.task", "").startswith(f"{dag_id}.")]


def _wait_for(what: str, check: Callable[[], object], timeout: float = 300, every: float = 1) -> object:
    """What `check` returns once it is truthy; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} ({timeout:.0f}s)")
        time.sleep(every)
    return found


def _ended(af, dag_id: str, run_id: str) -> dict | None:
    """The run once it has ended (success or failed), else None."""
    run = af.run(dag_id, run_id)
    return run if run["state"] in ("success", "failed") else None


class CycleInBackground:
    """A cycle followed in a thread, while the drill breaks things; job containers are sampled."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.result: CycleResult | None = None
        self.error: BaseException | None = None
        self.most_containers: dict[str, int] = {}
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def _follow(self) -> None:
        try:
            self.result = follow_cycle(self.stack.airflow, quiet=True, timeout=1200)
        except BaseException as exc:  # reported by wait()
            self.error = exc

    def start(self) -> CycleInBackground:
        self._thread.start()
        return self

    def sample(self) -> None:
        running = self.stack.docker.containers.list(
            filters={"label": f"baton.project={self.stack.env['BATON_PROJECT']}"}
        )
        per_task: dict[str, int] = {}
        for c in running:
            key = c.labels.get("baton.task", "?")
            per_task[key] = per_task.get(key, 0) + 1
        for key, n in per_task.items():
            self.most_containers[key] = max(self.most_containers.get(key, 0), n)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 600) -> None:
        def check() -> bool:
            self.sample()
            assert self._thread.is_alive() or self.result is None, f"the cycle ended before {what}"
            return condition()

        _wait_for(what, check, timeout, every=0.5)

    def wait(self) -> CycleResult:
        while self._thread.is_alive():
            self.sample()
            time.sleep(1)
        if self.error:
            raise self.error
        assert self.result is not None
        return self.result


def _service(stack: Stack, name: str):
    (container,) = stack.docker.containers.list(
        all=True,
        filters={
            "label": [f"com.docker.compose.project={stack.env['BATON_PROJECT']}", f"com.docker.compose.service={name}"]
        },
    )
    return container


def _newest_ad_spend(marketing: Path) -> Path:
    return sorted(marketing.glob("ad_spend_*.csv"))[-1]


def test_drill_a_failed_source_does_not_wedge_its_domain(live: Stack) -> None:
    # Cycle D: the day's ad spend file is malformed; marketing fails, finance goes on.
    live.make("next-day")
    bad = _newest_ad_spend(live.marketing)
    good_text = bad.read_text()
    lines = good_text.splitlines()
    bad.write_text("\n".join([lines[0], lines[1].rsplit(",", 1)[0] + ",not-a-number", *lines[2:]]) + "\n")
    t0 = time.monotonic()
    day_d = follow_cycle(live.airflow, quiet=True, timeout=1200)
    failed_cycle_seconds = time.monotonic() - t0
    states = _states(day_d)
    assert states["ingest_marketing"] == "failed", states
    assert states["ingest_shop"] == "success" and states["dbt_finance"] == "success", states
    # The marketing domain did not sit waiting, nor build a mixed day: it has no run, or one that the
    # gate stopped; either way the summary names marketing as the source that did not land.
    assert states.get("dbt_marketing") in (None, "failed"), states
    why = [line for line in failure_lines(day_d) if line.startswith("dbt_marketing: ")]
    assert why and "marketing did not land" in why[0], failure_lines(day_d)
    assert failed_cycle_seconds < 15 * 60, f"cycle D took {failed_cycle_seconds:.0f}s"

    # Cycle D+1: the file is fixed (the ad platform re-exported it) and a new day arrives.
    write_ad_spend(live.marketing, datetime.strptime(bad.stem.removeprefix("ad_spend_"), "%Y-%m-%d").date())
    live.make("next-day")
    day_d1 = follow_cycle(live.airflow, quiet=True, timeout=1200)
    assert day_d1.ok, failure_lines(day_d1)
    events = live.airflow.asset_events(
        source_dag_id="dbt_marketing", source_run_id=day_d1.runs["dbt_marketing"]["dag_run_id"]
    )
    assert [e["extra"]["cycle_id"] for e in events] == [day_d1.cycle_id]
    (days,) = live.warehouse_query("raw_marketing", "select count(distinct spend_date) from marketing.ad_spend")[0]
    assert days == len(list(live.marketing.glob("ad_spend_*.csv")))
    live.assert_raw_equals_source()
    report(f"drill a: cycle D {failed_cycle_seconds:.0f}s {states}; cycle D+1 {_states(day_d1)}")


def test_a_domain_run_on_mixed_cycles_waits_then_builds_the_newest(live: Stack) -> None:
    """A dbt_marketing run started while marketing is still on cycle D and shop on D+1 waits
    (rescheduled, no worker held), and builds D+1 as soon as marketing lands it."""
    af = live.airflow
    day_d = follow_cycle(af, quiet=True, timeout=1200)
    assert day_d.ok, failure_lines(day_d)
    day_d1 = str(date.fromisoformat(day_d.cycle_id) + timedelta(days=1))
    af.pause("ingest_marketing")
    try:
        opened = af.trigger("cycle", {"cycle_id": day_d1})
        _wait_for(
            "ingest_shop to land " + day_d1,
            lambda: [r for r in af.runs("ingest_shop", run_after_gte=opened["run_after"]) if r["state"] == "success"],
        )
        run_id = af.trigger("dbt_marketing")["dag_run_id"]

        def build_state() -> str:
            tis = af.request("GET", f"/dags/dbt_marketing/dagRuns/{run_id}/taskInstances")["task_instances"]
            return tis[0]["state"] if tis else "none"

        _wait_for("the build to wait", lambda: build_state() == "up_for_reschedule", timeout=120)
        reason = af.reason("dbt_marketing", run_id, "build") or ""
        assert reason.startswith(f"waiting for marketing to land cycle {day_d1}"), reason
    finally:
        af.unpause("ingest_marketing")
    landing = af.trigger("ingest_marketing")["dag_run_id"]
    landed = _wait_for("ingest_marketing to end", lambda: _ended(af, "ingest_marketing", landing))
    assert landed["state"] == "success"
    done = _wait_for("the waiting build to end", lambda: _ended(af, "dbt_marketing", run_id))
    assert done["state"] == "success"
    events = af.asset_events(source_dag_id="dbt_marketing", source_run_id=run_id)
    assert [e["extra"]["cycle_id"] for e in events] == [day_d1]
    after = (datetime.fromisoformat(done["end_date"]) - datetime.fromisoformat(landed["end_date"])).total_seconds()
    # The run the landing sets off (created once the waiting run ended: one active run per DAG)
    # builds the same cycle; the next test starts from a quiet stack.
    behind = _wait_for(
        "the dbt_marketing run set off by the landing to end",
        lambda: [
            r
            for r in af.runs("dbt_marketing", run_after_gte=landed["start_date"])
            if r["run_type"] == "asset_triggered" and r["state"] in ("success", "failed")
        ],
    )
    assert [r["state"] for r in behind] == ["success"], behind
    report(f"mixed cycles: dbt_marketing waited for marketing, built {day_d1} {after:.0f}s after it landed")


def test_drill_b_scheduler_killed_mid_load(live: Stack) -> None:
    live.make("next-day")
    cycle = CycleInBackground(live).start()
    cycle.wait_for(lambda: bool(_job_containers(live, "ingest_shop")), "the ingest_shop job container")
    scheduler = _service(live, "scheduler")
    scheduler.kill()
    killed_at = time.monotonic()
    time.sleep(3)
    scheduler.start()
    result = cycle.wait()
    took = time.monotonic() - killed_at
    assert result.ok, failure_lines(result)
    assert max(cycle.most_containers.values(), default=0) == 1, cycle.most_containers
    counts = live.assert_raw_equals_source()
    events = live.airflow.asset_events(
        source_dag_id="ingest_shop", source_run_id=result.runs["ingest_shop"]["dag_run_id"]
    )
    assert events and events[-1]["extra"]["reconciled"]["shop-orders"]["raw"] == counts["orders"]
    report(f"drill b: cycle completed {took:.0f}s after the kill; rows {result.rows}; raw {counts}")


def test_drill_c_metadata_database_restarted_mid_load(live: Stack) -> None:
    live.make("next-day")
    cycle = CycleInBackground(live).start()
    cycle.wait_for(lambda: bool(_job_containers(live, "ingest_shop")), "the ingest_shop job container")
    restarted_at = datetime.now(UTC)
    _service(live, "postgres").restart(timeout=5)
    result = cycle.wait()
    assert result.ok, failure_lines(result)
    ended = max(datetime.fromisoformat(r["end_date"]) for r in result.runs.values() if r.get("end_date"))
    took = (ended - restarted_at).total_seconds()
    assert took <= 120, f"the cycle completed {took:.0f}s after the restart (goal: within 2 minutes)"
    counts = live.assert_raw_equals_source()
    report(f"drill c: cycle completed {took:.0f}s after the restart; rows {result.rows}; raw {counts}")


def test_drill_d_an_earlier_day_again_loads_what_is_new_under_its_label(live: Stack) -> None:
    """`make run CYCLE=<earlier day>` after new data arrived: extraction is incremental from the
    bookmark, so the run loads everything new since the last load, and its events carry the
    earlier day's cycle id (the label of the run, not a slice of the data)."""
    earlier = follow_cycle(live.airflow, quiet=True, timeout=1200)
    assert earlier.ok, failure_lines(earlier)
    live.make("next-day")
    (newest,) = live.source("select max(updated_at) from shop.orders")[0]
    again = follow_cycle(live.airflow, cycle_id=earlier.cycle_id, quiet=True, timeout=1200)
    assert again.ok, failure_lines(again)
    assert again.cycle_id == earlier.cycle_id
    (raw_newest,) = live.warehouse_query("raw_shop", "select max(updated_at) from shop.orders")[0]
    assert raw_newest == newest, "the rerun of an earlier day did not load the new data"
    live.assert_raw_equals_source()
    events = live.airflow.asset_events(
        source_dag_id="ingest_shop", source_run_id=again.runs["ingest_shop"]["dag_run_id"]
    )
    assert [e["extra"]["cycle_id"] for e in events] == [earlier.cycle_id]
    report(f"drill d: rerun of {earlier.cycle_id} loaded rows {again.rows}")


def _a_million_new_orders(stack: Stack) -> int:
    """The next day of the samples, with about 1M new orders (so that a kill lands inside the load)."""
    (orders,) = stack.source("select count(*) from shop.orders")[0]
    with psycopg.connect(stack.shop_url, autocommit=True) as conn:
        (day,) = conn.execute("select sample_gen.next_day(%s::numeric)", (1_000_000 * 100 / orders,)).fetchone()
    write_ad_spend(stack.marketing, day)
    (after,) = stack.source("select count(*) from shop.orders")[0]
    return after - orders


def _drill_stopped_mid_load(
    live: Stack,
    how: str,
    raw_equals_source: Callable[[], dict[str, int]] | None = None,
    mode: str = "files",
    within: float | None = 90,
) -> None:
    """A cycle loading ≥ 1M rows; the ingest_shop job container is stopped (`how`: kill = SIGKILL,
    as the OOM killer or a lost host; stop = SIGTERM, as docker stop, ECS StopTask or a Spot
    interruption's notice) while it loads. The cycle must end green (within `within` seconds of the
    stop, where given), raw = source (`raw_equals_source` checks it and returns the counts; default:
    the raw files)."""
    new = _a_million_new_orders(live)
    assert new >= 1_000_000
    cycle = CycleInBackground(live).start()
    cycle.wait_for(lambda: bool(_job_containers(live, "ingest_shop")), "the ingest_shop job container")
    (container,) = _job_containers(live, "ingest_shop")
    # The job's output, followed to its end: the runner removes the container as soon as it exits.
    output: list[bytes] = []

    def follow() -> None:
        for chunk in container.logs(stream=True, follow=True):
            output.append(chunk)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    # Inside the load: the extractor has sent its first rows (Meltano and discovery take a few seconds).
    started = lambda: b"METRIC" in b"".join(output) or b"Batch" in b"".join(output)  # noqa: E731
    cycle.wait_for(started, "the load to start", 120)
    time.sleep(2)
    stopped_at = datetime.now(UTC)
    if how == "kill":
        container.kill()
    else:
        container.stop(timeout=30)
    follower.join(timeout=60)
    log = b"".join(output).decode(errors="replace")
    assert '"ok": true' not in log, "the job had ended before it was stopped: the drill stopped nothing"
    stop_seconds = (datetime.now(UTC) - stopped_at).total_seconds()
    result = cycle.wait()
    assert result.ok, failure_lines(result)
    ended = max(datetime.fromisoformat(r["end_date"]) for r in result.runs.values() if r.get("end_date"))
    took = (ended - stopped_at).total_seconds()
    counts = (raw_equals_source or live.assert_raw_equals_source)()
    assert max(cycle.most_containers.values(), default=0) == 1, cycle.most_containers
    run_id = result.runs["ingest_shop"]["dag_run_id"]
    (ti,) = live.airflow.request("GET", f"/dags/ingest_shop/dagRuns/{run_id}/taskInstances")["task_instances"]
    assert ti["try_number"] >= 2, "the stopped job was not retried"
    if how == "stop":  # it stopped at a batch boundary, in time, and asked for a retry at once
        assert "el: ERROR stopped by SIGTERM" in log, log[-3000:]
    figures = (
        f"drill {how} ({mode}): {new} new orders; "
        f"the job {'died' if how == 'kill' else f'stopped in {stop_seconds:.0f}s'}, "
        f"try {ti['try_number']} finished the load; cycle green {took:.0f}s after the {how}; raw {counts}"
    )
    report(figures)
    if within is not None:
        assert took <= within, f"the cycle ended {took:.0f}s after the {how} (goal: within {within:.0f} s)"


def test_drill_e_job_container_killed_mid_load(live: Stack) -> None:
    _drill_stopped_mid_load(live, "kill")


def test_drill_f_job_container_stopped_mid_load(live: Stack) -> None:
    _drill_stopped_mid_load(live, "stop")
