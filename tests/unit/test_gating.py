"""The per-cycle gate of the dbt DAGs (the build task's first step): it reads the newest events at
every check, goes on once every source has landed the newest cycle, waits by rescheduling the task,
and stops at once, with the reason, when a source failed to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException
from baton.assets import cycle_asset, raw_asset
from baton.config import Config, load_config
from baton.dbt_dags import BUILD_STATE, build_dbt_dags
from baton.gating import (
    INGESTION_STATE,
    MixedCyclesError,
    SourceNotLandedError,
    decide,
    ingestion_failure,
    landing_failures,
    triggering_cycle_id,
)
from baton.ingestion import build_ingestion_dag, raw_extra
from baton.metadata import load_manifest, load_sources
from baton.runners.base import PERMANENT_EXIT_CODES, job_failed


@dataclass
class Run:
    dag_id: str
    run_id: str
    state: str


@dataclass
class Event:
    extra: dict
    created_dagruns: list = field(default_factory=list)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


class Events:
    """inlet_events[asset]: newest last; .ascending(False).limit(1) as the Task SDK accessor."""

    def __init__(self, events: list[Event]) -> None:
        self.events, self.reverse, self.count = events, False, None

    def ascending(self, ascending: bool = True) -> Events:
        self.reverse = not ascending
        return self

    def limit(self, n: int) -> Events:
        self.count = n
        return self

    def __iter__(self):
        found = list(reversed(self.events)) if self.reverse else list(self.events)
        return iter(found[: self.count] if self.count else found)


class World:
    """What the Airflow API would answer: events per asset, asset states; changes between pokes."""

    def __init__(self) -> None:
        self.events: dict[str, list[Event]] = {}
        self.states: dict[str, dict] = {}
        self.xcom: dict[str, Any] = {}
        self.run_started = datetime.now(UTC)

    def emit(self, asset_name: str, extra: dict, created: list[Run] | None = None) -> None:
        self.events.setdefault(asset_name, []).append(Event(extra, created or []))

    def context(self) -> dict:
        world = self

        class InletEvents:
            def __getitem__(self, asset):
                return Events(world.events.get(asset.name, []))

        class Store:
            def __init__(self, name: str) -> None:
                self.name = name

            def get(self, key: str, default: Any = None) -> Any:
                return world.states.get(self.name, {}).get(key, default)

            def set(self, key: str, value: Any) -> None:
                world.states.setdefault(self.name, {})[key] = value

        class States:
            def __getitem__(self, asset):
                return Store(asset.name)

        class Ti:
            def xcom_push(self, key: str, value: Any) -> None:
                world.xcom[key] = value

            def xcom_pull(self, task_ids: str | None = None, key: str = "return_value") -> Any:
                return world.xcom.get(key)

        class DagRun:
            start_date = world.run_started

        return {
            "inlet_events": InletEvents(),
            "asset_state_store": States(),
            "ti": Ti(),
            "run_id": "r1",
            "dag_run": DagRun(),
        }


def _config(**overrides) -> Config:
    base = load_config(environ={"BATON_RUNNER": "subprocess"})
    return Config(**{**base.__dict__, **overrides})


@dataclass
class Check:
    is_done: bool
    xcom_value: str | None
    reschedule_at: datetime | None = None


def _gate(domain: str, **overrides):
    config = _config(**overrides)
    dags = build_dbt_dags(config, load_manifest(config.metadata_dir), load_sources(config.metadata_dir))
    return next(d for d in dags if d.dag_id == f"dbt_{domain}").get_task("build")


def _poke(build, world: World) -> Check:
    """One check of the gate, as the build task's pre_execute hook runs it."""
    world.xcom.pop("cycle_id", None)
    try:
        build._pre_execute_hook(world.context())
    except AirflowRescheduleException as wait:
        return Check(False, None, wait.reschedule_date)
    return Check(True, world.xcom["cycle_id"])


def test_a_run_started_on_mixed_cycles_goes_on_once_the_late_source_lands() -> None:
    world = World()
    world.emit("cycle", {"cycle_id": "2026-11-24"})
    world.emit("raw_shop", {"cycle_id": "2026-11-24"})
    world.emit("raw_marketing", {"cycle_id": "2026-11-24"})
    world.emit("cycle", {"cycle_id": "2026-11-25"})
    world.emit("raw_shop", {"cycle_id": "2026-11-25"})
    gate = _gate("marketing", gating_policy="wait")

    first = _poke(gate, world)
    assert first.is_done is False
    assert timedelta(0) < first.reschedule_at - datetime.now(UTC) <= timedelta(seconds=_config().gating_poke_seconds)
    assert world.xcom["reason"].startswith("waiting for marketing to land cycle 2026-11-25")
    world.emit("raw_marketing", {"cycle_id": "2026-11-25"})  # lands late, same cycle
    second = _poke(gate, world)
    assert (second.is_done, second.xcom_value) == (True, "2026-11-25")


def test_the_newest_cycle_counts_not_the_newest_raw_event() -> None:
    # The cycle is open but no source has landed it yet: the domain waits instead of building D-1.
    world = World()
    world.emit("raw_shop", {"cycle_id": "2026-11-24"})
    world.emit("cycle", {"cycle_id": "2026-11-25"})
    assert _poke(_gate("finance"), world).is_done is False


def test_a_wait_longer_than_the_timeout_fails_with_the_reason() -> None:
    world = World()
    world.emit("raw_shop", {"cycle_id": "2026-11-24"})
    world.emit("cycle", {"cycle_id": "2026-11-25"})
    build = _gate("finance", gating_wait_timeout_minutes=30)
    world.run_started = datetime.now(UTC) - timedelta(minutes=31)
    with pytest.raises(AirflowFailException, match=r"waiting for shop to land cycle 2026-11-25.*gave up after 30 min"):
        _poke(build, world)


def test_a_source_that_failed_the_newest_cycle_stops_the_gate_at_once() -> None:
    world = World()
    world.emit("cycle", {"cycle_id": "2026-11-24"})
    world.emit("raw_marketing", {"cycle_id": "2026-11-24"})
    world.emit("cycle", {"cycle_id": "2026-11-25"})
    world.emit("raw_shop", {"cycle_id": "2026-11-25"})
    world.states["raw_marketing"] = {
        INGESTION_STATE: {"cycle_id": "2026-11-25", "run_id": "m2", "state": "failed", "error": "el: ERROR bad row"}
    }
    with pytest.raises(AirflowFailException, match="marketing did not land 2026-11-25: ingest_marketing failed"):
        _poke(_gate("marketing", gating_policy="wait"), world)
    assert world.xcom["reason"].startswith("marketing did not land 2026-11-25")


def test_a_failed_run_of_the_cycle_counts_even_without_a_recorded_state() -> None:
    world = World()
    world.emit("raw_shop", {"cycle_id": "2026-11-25"})
    world.emit("raw_marketing", {"cycle_id": "2026-11-24"})
    created = [Run("ingest_shop", "s1", "success"), Run("ingest_marketing", "m1", "failed")]
    world.emit("cycle", {"cycle_id": "2026-11-25"}, created)
    with pytest.raises(AirflowFailException, match="ingest_marketing run m1 failed"):
        _poke(_gate("marketing"), world)


def test_ingestion_failure_reads_the_state_then_the_created_run() -> None:
    failed_run = Run("ingest_marketing", "m1", "failed")
    running = {"cycle_id": "D", "run_id": "m2", "state": "running"}
    # A manual re-run (m2) of the cycle is under way: the failed scheduled run no longer counts.
    assert ingestion_failure(running, failed_run, "marketing", "D") is None
    # The run the state names died without reporting: its run state tells.
    assert "m1 failed" in ingestion_failure({**running, "run_id": "m1"}, failed_run, "marketing", "D")
    # A state about an older cycle says nothing about this one.
    assert ingestion_failure({"cycle_id": "C", "state": "failed"}, None, "marketing", "D") is None
    assert ingestion_failure(None, Run("ingest_marketing", "m1", "running"), "marketing", "D") is None


def test_landing_failures_without_a_cycle_event_are_none() -> None:
    assert landing_failures(World().context(), [raw_asset("shop")], None) == {}


def test_decide_with_the_newest_cycle_and_failures() -> None:
    mixed = {"raw_shop": "D2", "raw_marketing": "D1"}
    with pytest.raises(SourceNotLandedError, match="marketing did not land D2: boom"):
        decide(mixed, "wait", "D2", {"raw_marketing": "boom"})
    with pytest.raises(SourceNotLandedError):
        decide(mixed, "fail", "D2", {"raw_marketing": "boom"})
    ready, cycle_id, message = decide(mixed, "warn", "D2", {"raw_marketing": "boom"})
    assert (ready, cycle_id) == (True, "D2") and "marketing did not land D2: boom" in message
    # A source never landed yet is waited for (a first cycle), unless it failed.
    assert decide({"raw_shop": "D2", "raw_marketing": None}, "wait", "D2")[0] is False
    with pytest.raises(MixedCyclesError, match="no event with a cycle_id yet"):
        decide({"raw_shop": None}, "wait")
    # An earlier day run again is the newest cycle: sources on a later day wait for it.
    assert decide({"raw_shop": "D2"}, "wait", "D1")[:2] == (False, "D1")


def test_the_ingestion_task_records_its_state_and_the_extra() -> None:
    config = _config()
    source = next(s for s in load_sources(config.metadata_dir) if s.name == "marketing")
    task = build_ingestion_dag(source, config).get_task("extract_load")
    world = World()
    world.emit("cycle", {"cycle_id": "2026-11-25"})
    context = {**world.context(), "outlet_events": {raw_asset("marketing"): type("E", (), {"extra": None})()}}
    task._pre_execute_hook(context)
    assert world.states["raw_marketing"][INGESTION_STATE]["state"] == "running"
    task.on_failure_callback[0](
        {**context, "exception": RuntimeError("`el marketing` exited with code 3:\nel: ERROR NaN in spend")}
    )
    state = world.states["raw_marketing"][INGESTION_STATE]
    assert state == {"cycle_id": "2026-11-25", "run_id": "r1", "state": "failed", "error": "el: ERROR NaN in spend"}
    dropped = {
        "stream": "marketing-ad_spend",
        "table": "marketing.ad_spend",
        "column": "channel",
        "change": "dropped",
        "from": "VARCHAR",
        "to": None,
    }
    result = {
        "source": "marketing",
        "rows": 50,
        "reconciled": {"m": {"source": 50, "raw": 50}},
        "schema_changes": [dropped],
        "ok": True,
    }
    task._post_execute_hook(context, result)
    assert context["outlet_events"][raw_asset("marketing")].extra == {
        "cycle_id": "2026-11-25",
        "rows": 50,
        "reconciled": {"m": {"source": 50, "raw": 50}},
        "schema_changes": [dropped],
    }
    assert world.states["raw_marketing"][INGESTION_STATE]["state"] == "landed"
    # No change, or a job without a BATON_RESULT line: the list is there, empty.
    assert raw_extra("D", {"rows": 7, "schema_changes": []}) == {
        "cycle_id": "D",
        "rows": 7,
        "reconciled": {},
        "schema_changes": [],
    }
    assert raw_extra("D", {"rows": 7}) == {"cycle_id": "D", "rows": 7, "reconciled": {}, "schema_changes": []}
    assert raw_extra("D", None) == {"cycle_id": "D", "rows": None, "reconciled": {}, "schema_changes": []}
    assert cycle_asset().name == "cycle"


def test_a_run_takes_the_cycle_of_its_newest_triggering_event_whatever_their_order() -> None:
    # A run can consume several cycle events (its DAG was paused while cycles opened), and Airflow
    # hands them over in no particular order. The newest by time counts, even when it names an
    # earlier day (a day run again after a later one).
    early = datetime(2026, 11, 26, 1, 22, tzinfo=UTC)
    opened = [
        Event({"cycle_id": "2026-11-25"}, timestamp=early + timedelta(seconds=30)),
        Event({"cycle_id": "2026-11-26"}, timestamp=early),
    ]
    cycle = cycle_asset()
    assert triggering_cycle_id({"triggering_asset_events": {cycle: opened}}, cycle) == "2026-11-25"
    assert triggering_cycle_id({"triggering_asset_events": {cycle: opened[::-1]}}, cycle) == "2026-11-25"
    world = World()
    world.emit("cycle", {"cycle_id": "2026-11-27"})  # a manual run: the newest cycle event
    assert triggering_cycle_id(world.context(), cycle) == "2026-11-27"


DATA_TESTS_FAILED = (
    'BATON_RESULT: {"command": "build", "ok": false, "failure": "bad data", "failed_tests": '
    '[{"name": "in_range_stg_orders_order_total__1000000__0", "failures": 3, "model": "stg_orders", '
    '"column": "order_total"}], "errors": [], "reason": "1 data test failed: '
    'in_range_stg_orders_order_total__1000000__0 (3 rows) (bad data: not retried)"}'
)


def test_a_build_whose_data_tests_failed_says_which_and_records_it_on_the_domain() -> None:
    build = _gate("finance")
    world = World()
    world.emit("cycle", {"cycle_id": "2026-11-25"})
    world.emit("raw_shop", {"cycle_id": "2026-11-25"})
    assert _poke(build, world).is_done
    # The dbt job exited 3: the runner fails the task for good, the job's last lines in the error.
    error = job_failed(build.command, 3, ["21:26:14  Done. PASS=24 ERROR=1", DATA_TESTS_FAILED])
    assert isinstance(error, AirflowFailException) and PERMANENT_EXIT_CODES[3] in str(error)
    build.on_failure_callback[0]({**world.context(), "exception": error})
    reason = "1 data test failed: in_range_stg_orders_order_total__1000000__0 (3 rows) (bad data: not retried)"
    assert world.xcom["reason"] == reason
    state = world.states["dbt_finance"][BUILD_STATE]
    assert state["cycle_id"] == "2026-11-25" and state["state"] == "failed" and state["reason"] == reason
    assert state["failed_tests"] == [
        {
            "name": "in_range_stg_orders_order_total__1000000__0",
            "failures": 3,
            "model": "stg_orders",
            "column": "order_total",
        }
    ]


def test_a_build_stopped_by_its_gate_keeps_the_gates_reason() -> None:
    build = _gate("marketing")
    world = World()
    world.emit("cycle", {"cycle_id": "2026-11-25"}, created=[Run("ingest_marketing", "m1", "failed")])
    world.emit("raw_shop", {"cycle_id": "2026-11-25"})
    world.emit("raw_marketing", {"cycle_id": "2026-11-24"})
    with pytest.raises(AirflowFailException) as stopped:
        build._pre_execute_hook(world.context())
    build.on_failure_callback[0]({**world.context(), "exception": stopped.value})
    assert world.xcom["reason"].startswith("marketing did not land 2026-11-25")
    assert "dbt_marketing" not in world.states


def test_a_transient_failure_without_a_result_names_its_last_line() -> None:
    build = _gate("finance")
    world = World()
    world.xcom["reason"] = ""  # the gate passed
    error = job_failed(build.command, 137, ["21:26:14  1 of 9 START sql view model main.stg_orders"])
    build.on_failure_callback[0]({**world.context(), "exception": error})
    assert world.xcom["reason"] == (
        "`dbt build --select +tag:finance --exclude-resource-type unit_test` exited with code 137: "
        "21:26:14  1 of 9 START sql view model main.stg_orders"
    )
    assert "dbt_finance" in world.states  # the domain's asset says its newest build failed


def test_the_full_refresh_param_rebuilds_the_incremental_marts() -> None:
    build = _gate("finance")
    assert build.dag.params["full_refresh"] is False
    world = World()
    world.emit("cycle", {"cycle_id": "2026-11-25"})
    world.emit("raw_shop", {"cycle_id": "2026-11-25"})
    build._pre_execute_hook({**world.context(), "params": {"full_refresh": False}, "task": build})
    assert build.command == ["dbt", "build", "--select", "+tag:finance", "--exclude-resource-type", "unit_test"]
    build._pre_execute_hook({**world.context(), "params": {"full_refresh": True}, "task": build})
    assert build.command == [
        "dbt", "build", "--select", "+tag:finance", "--exclude-resource-type", "unit_test", "--full-refresh"
    ]  # fmt: skip
