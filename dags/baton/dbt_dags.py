"""The dbt DAG factory: `monolith` (one DAG, `dbt build`) or `multi` (one DAG per domain tag).

In `multi`, a domain's schedule is the set of raw_<source> assets its tagged models read (dbt
manifest lineage, through ref chains), so a domain runs as soon as its own sources land.
    dbt_<domain>: build (the gate, then dbt build --select +tag:<domain>; emits dbt_<domain> with
                  {cycle_id} when it succeeds, plus snapshot_id in lake mode)

One task, not two: every task costs seconds on the critical path of a cycle, so the gate is the
build task's first step (its pre_execute hook). The gate reads the newest events at each check
(baton.gating):
  ready        every source it reads has landed the newest cycle: the build runs on that cycle
  waiting      a source has not landed it yet: the task is rescheduled (state up_for_reschedule,
               no worker and no warehouse pool slot held) and checks again after
               gating.poke_seconds, for at most gating.wait_timeout_minutes from the run's start
  stopped      a source failed to land it (or gating is `fail` on mixed cycles): the task fails at
               once, without retries, saying which source did not land which cycle
The reason is in the task log and in the task's XCom `reason` (what `make run` prints).

The build itself is the dbt job (dbt/bin/dbt_job.py): when data tests fail, it exits 3 (bad data)
and names them with their failing row counts; a compile error exits 2 (bad configuration); both
fail the task at once, without retries. Anything else (a lost connection, a locked file, a killed
container) is retried. When the task fails for good, its XCom `reason` says why (the job's
BATON_RESULT reason: "1 data test failed: in_range_stg_orders_order_total (3 rows) ...") and the
dbt_<domain> asset's state `build` keeps {cycle_id, run_id, state, reason, failed_tests}.

Param `full_refresh` (default false): a manual run with it on adds --full-refresh, rebuilding the
incremental marts from all of raw.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException
from baton_contract.job import RESULT_PREFIX, cycle_build
from baton_contract.naming import dbt_dag

from baton.assets import CYCLE_ID, cycle_asset, dbt_asset, raw_asset
from baton.config import Config, ConfigError
from baton.cycle import START
from baton.gating import MixedCyclesError, decide, landing_failures, newest_cycle_ids, newest_event
from baton.ingestion import retry_args
from baton.metadata import MetadataError, Source, domain_sources
from baton.runners import baton_result, job_operator

log = logging.getLogger("baton.gating")

BUILD_TASK = "build"
# XCom keys of the build task: the cycle the gate let it build, and why it waits or stopped.
GATE_CYCLE, GATE_REASON = "cycle_id", "reason"
# Asset state key on dbt_<domain>: the outcome of the domain's newest build that failed for good.
BUILD_STATE = "build"
FULL_REFRESH = "full_refresh"


def build_failure(error: object, output: list[str] | None = None) -> dict[str, Any]:
    """What a failed build says: the dbt job's BATON_RESULT (in the error's tail, or in `output`,
    e.g. the last lines of an ECS task's log), else the error's last meaningful line."""
    text = str(error or "")
    result = baton_result(text) or baton_result(output or [])
    if result is not None:
        return {
            "reason": result.get("reason") or "dbt failed",
            "failed_tests": result.get("failed_tests") or [],
            "failure": result.get("failure"),
        }
    # The runner's own closing note, e.g. "(killed (SIGKILL): retried at once)", is not the job's line.
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not re.fullmatch(r"\(.*\)", ln.strip())]
    if not lines:
        return {"reason": "dbt failed: see the task log", "failed_tests": []}
    # "`dbt build ...` exited with code 137 (container ...):" and the job's last line.
    said = lines[0].rstrip(":") + (f": {lines[-1]}" if len(lines) > 1 else "")
    return {"reason": said[:600], "failed_tests": []}


# The dbt_<domain> event's extra key for the lake snapshot the build left (lake mode).
SNAPSHOT_ID = "snapshot_id"


def _resuming(context: dict[str, Any]) -> bool:
    """True when the task resumes after a deferral (ECS): its gate passed before it deferred."""
    server = getattr(context["ti"], "_ti_context_from_server", None)
    return bool(getattr(server, "next_method", None))


def _run_started(context: dict[str, Any]) -> datetime:
    run = context.get("dag_run")
    started = getattr(run, "start_date", None) or getattr(run, "run_after", None)
    return started or datetime.now(UTC)


def gate(context: dict[str, Any], config: Config, raws: list, cycle: Any) -> str:
    """The gate of a domain run, checked now: the cycle id to build, or AirflowRescheduleException
    (wait) / AirflowFailException (stop, with the reason)."""
    ti = context["ti"]
    cycle_event = newest_event(context, cycle)
    newest = (cycle_event.extra or {}).get(CYCLE_ID) if cycle_event is not None else None
    try:
        ready, cycle_id, message = decide(
            newest_cycle_ids(context, raws),
            config.gating_policy,
            newest,
            landing_failures(context, raws, cycle_event),
        )
    except MixedCyclesError as exc:
        ti.xcom_push(key=GATE_REASON, value=str(exc))
        raise AirflowFailException(str(exc)) from exc
    (log.warning if "mixed" in message else log.info)(message)
    if ready:
        ti.xcom_push(key=GATE_CYCLE, value=cycle_id)
        ti.xcom_push(key=GATE_REASON, value="")  # no longer waiting: a failure from here on is the build's
        return cycle_id
    ti.xcom_push(key=GATE_REASON, value=message)
    now = datetime.now(UTC)
    timeout = timedelta(minutes=config.gating_wait_timeout_minutes)
    if now - _run_started(context) >= timeout:
        raise AirflowFailException(
            f"{message}; gave up after {config.gating_wait_timeout_minutes} min "
            "(gating.wait_timeout_minutes in dags/baton.yml)"
        )
    raise AirflowRescheduleException(reschedule_date=now + timedelta(seconds=config.gating_poke_seconds))


def _dbt_dag(dag_id: str, domains: list[str], sources: list[str], select: list[str], config: Config, doc: str) -> DAG:
    raws = [raw_asset(s) for s in sources]
    outlets = [dbt_asset(d) for d in domains]
    cycle = cycle_asset()
    with DAG(
        dag_id=dag_id,
        description=doc.splitlines()[0],
        doc_md=doc,
        schedule=raws,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["baton", "dbt", *(f"domain:{d}" for d in domains)],
        default_args={"owner": config.owner, **retry_args(config.dbt)},
        params={
            FULL_REFRESH: Param(
                False,
                type="boolean",
                title="Full refresh",
                description="Rebuild the incremental marts from all of raw (dbt build --full-refresh)",
            )
        },
    ) as dag:

        def check_gate(context) -> None:
            if config.warehouse == "files" and not config.warehouse_pool:
                raise ConfigError(
                    "BATON_WAREHOUSE_POOL is not set and settings.env is not reachable: set it in the "
                    "environment of the Airflow services to the pool of analytics.duckdb writers"
                )
            if not _resuming(context):
                cycle_id = gate(context, config, raws, cycle)
                # The job records the lake snapshot it leaves under this cycle (dbt/macros/record_build.sql).
                task = context.get("task")
                if task is not None:
                    task.env = {**task.env, "BATON_CYCLE_ID": cycle_id}

            if (context.get("params") or {}).get(FULL_REFRESH):  # rebuild the incremental marts in full
                task = context["task"]
                if "--full-refresh" not in task.command:
                    task.command = [*task.command, "--full-refresh"]

        def publish(context, result) -> None:  # the build's own events carry the gate's cycle id
            cycle_id = context["ti"].xcom_pull(task_ids=BUILD_TASK, key=GATE_CYCLE)
            extra = {CYCLE_ID: cycle_id}
            if isinstance(result, dict) and result.get(SNAPSHOT_ID) is not None:
                extra[SNAPSHOT_ID] = result[SNAPSHOT_ID]  # lake mode: the analytics snapshot this build left
            for asset in outlets:
                context["outlet_events"][asset].extra = extra

        def record_failure(context) -> None:  # failed for good: say why, where `make run` looks
            ti, error = context["ti"], context.get("exception")
            if ti.xcom_pull(task_ids=BUILD_TASK, key=GATE_REASON):
                return  # the gate stopped it and said why
            output = None
            last_lines = getattr(context.get("task"), "last_log_lines", None)  # ECS: the job's log
            if callable(last_lines) and RESULT_PREFIX not in str(error or ""):
                try:
                    output = last_lines()
                except Exception as exc:
                    log.warning("could not read the job's log: %s", exc)
            failure = build_failure(error, output)
            log.error("dbt build failed: %s", failure["reason"])
            try:
                ti.xcom_push(key=GATE_REASON, value=failure["reason"])
            except Exception as exc:
                log.warning("could not record the failure reason: %s", exc)
            state = {
                CYCLE_ID: ti.xcom_pull(task_ids=BUILD_TASK, key=GATE_CYCLE),
                "run_id": context.get("run_id"),
                "state": "failed",
                **failure,
            }
            for asset in outlets:
                try:
                    context["asset_state_store"][asset].set(BUILD_STATE, state)
                except Exception as exc:  # never hide the build's own failure behind this one
                    log.warning("could not record the build state of %s: %s", asset.name, exc)

        # files: DuckDB allows one writer per file: dbt runs write analytics.duckdb one at a time (the pool
        # BATON_WAREHOUSE_POOL has one slot). Loads write their own raw files and need no slot.
        # lake: DuckLake takes many writers at once: no pool.
        pool = {"pool": config.warehouse_pool} if config.warehouse == "files" and config.warehouse_pool else {}
        job_operator(
            BUILD_TASK,
            cycle_build(*select),
            config,
            inlets=[*raws, cycle],
            outlets=outlets,
            pre_execute=check_gate,
            post_execute=publish,
            on_failure_callback=record_failure,
            **pool,
        )
    return dag


def build_dbt_dags(config: Config, manifest: dict, sources: tuple[Source, ...]) -> list[DAG]:
    lineage = domain_sources(manifest)
    known = {s.name for s in sources}
    for domain, read in sorted(lineage.items()):
        unknown = sorted(read - known)
        if unknown:
            raise MetadataError(
                f"dbt domain '{domain}' reads source(s) {unknown} that the Meltano project does not define "
                f"(known: {sorted(known)}); add meltano/sources/<name>.meltano.yml or fix the dbt source"
            )
    domains = sorted(lineage)
    if config.dbt_mode == "monolith":
        doc = "Builds every dbt model (`dbt build`) once every source has landed."
        return [_dbt_dag("dbt_build", domains, sorted(known), [], config, doc)]
    return [
        _dbt_dag(
            dbt_dag(domain),
            [domain],
            sorted(lineage[domain]),
            # Tests run when the domain builds every model they read (a relationships test to a
            # model of another domain waits for that domain's own build).
            ["--select", f"+tag:{domain}"],
            config,
            f"Builds the dbt domain '{domain}' (`dbt build --select +tag:{domain}`) when its sources land.\n\n"
            f"Sources read by its models: {', '.join(sorted(lineage[domain])) or 'none'}.",
        )
        for domain in domains
    ]
