"""The cycle DAG: daily, just after midnight, it opens a cycle by emitting the cycle asset."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param, task

from baton.assets import CYCLE_ID, cycle_asset
from baton.config import Config
from baton.gating import triggering_cycle_id

START = pendulum.datetime(2026, 1, 1, tz="UTC")


def cycle_id_for(context: dict, config: Config) -> str:
    """The day a run covers: a `cycle_id` param when given, else the day before the run, in the
    cycle's timezone (the 00:15 run of the 24th covers the 23rd)."""
    given = (context.get("params") or {}).get(CYCLE_ID)
    if given:
        return str(pendulum.parse(str(given)).date())
    run_after = context["dag_run"].run_after
    return str(pendulum.instance(run_after).in_timezone(config.timezone).date() - timedelta(days=1))


def build_cycle_dag(config: Config) -> DAG:
    cycle = cycle_asset()
    with DAG(
        dag_id="cycle",
        description="Opens the daily cycle: every ingestion DAG starts on its asset.",
        doc_md=__doc__,
        schedule=CronTriggerTimetable(config.cycle_schedule, timezone=config.timezone),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["baton", "cycle"],
        default_args={"owner": config.owner, "retries": 2, "retry_delay": timedelta(minutes=1)},
        params={CYCLE_ID: Param(None, type=["null", "string"], format="date", description="Override: YYYY-MM-DD")},
    ) as dag:

        @task(outlets=[cycle])
        def open_cycle(**context) -> str:
            cycle_id = cycle_id_for(context, config)
            context["outlet_events"][cycle].extra = {CYCLE_ID: cycle_id}
            return cycle_id

        open_cycle()
    return dag


def cycle_of_this_run(context: dict) -> str:
    """In a DAG triggered by the cycle asset: the cycle id it was triggered with (the newest cycle
    event for a manual run)."""
    cycle_id = triggering_cycle_id(context, cycle_asset())
    if not cycle_id:
        raise RuntimeError("no cycle has been opened yet: trigger the `cycle` DAG first")
    return cycle_id
