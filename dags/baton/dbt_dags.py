"""The dbt DAG factory: `monolith` (one DAG, `dbt build`) or `multi` (one DAG per domain tag).

In `multi`, a domain's schedule is the set of raw_<source> assets its tagged models read (dbt
manifest lineage, through ref chains), so a domain runs as soon as its own sources land.
    dbt_<domain>: gate (every source on the newest cycle) -> build (dbt build --select +tag:<domain>,
                  emits dbt_<domain> with {cycle_id} when it succeeds)

The gate reads the newest events at each check (baton.gating): a run started on mixed cycles goes
on as soon as every source it reads has landed the newest cycle, and stops at once, saying which
source did not land which cycle, when one of them failed to. The reason is the gate's error in its
task log and its XCom `reason` (what `make run` prints).
"""

from __future__ import annotations

import logging

from airflow.sdk import DAG, PokeReturnValue, task
from airflow.sdk.exceptions import AirflowFailException

from baton.assets import CYCLE_ID, cycle_asset, dbt_asset, raw_asset
from baton.config import Config, ConfigError
from baton.cycle import START
from baton.gating import MixedCyclesError, decide, landing_failures, newest_cycle_ids, newest_event
from baton.ingestion import retry_args
from baton.metadata import MetadataError, Source, domain_sources
from baton.runners import job_operator

log = logging.getLogger("baton.gating")


def _dbt_dag(dag_id: str, domains: list[str], sources: list[str], select: list[str], config: Config, doc: str) -> DAG:
    raws = [raw_asset(s) for s in sources]
    outlets = [dbt_asset(d) for d in domains]
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
    ) as dag:
        cycle = cycle_asset()

        @task.sensor(
            inlets=[*raws, cycle],
            poke_interval=config.gating_poke_seconds,
            timeout=config.gating_wait_timeout_minutes * 60,
            mode="reschedule",
            retries=0,
        )
        def gate(**context) -> PokeReturnValue:
            cycle_event = newest_event(context, cycle)
            cycle_ids = newest_cycle_ids(context, raws)
            newest = (cycle_event.extra or {}).get(CYCLE_ID) if cycle_event is not None else None
            try:
                ready, cycle_id, message = decide(
                    cycle_ids, config.gating_policy, newest, landing_failures(context, raws, cycle_event)
                )
            except MixedCyclesError as exc:
                context["ti"].xcom_push(key="reason", value=str(exc))
                raise AirflowFailException(str(exc)) from exc
            (log.warning if "mixed" in message else log.info)(message)
            if not ready:  # what a timed-out wait reports
                context["ti"].xcom_push(key="reason", value=message)
            return PokeReturnValue(is_done=ready, xcom_value=cycle_id)

        def check_pool(context) -> None:
            if not config.warehouse_pool:
                raise ConfigError(
                    "BATON_WAREHOUSE_POOL is not set and settings.env is not reachable: set it in the "
                    "environment of the Airflow services to the pool of analytics.duckdb writers"
                )

        def publish(context, result) -> None:  # the build's own events carry the gate's cycle id
            cycle_id = context["ti"].xcom_pull(task_ids="gate")
            for asset in outlets:
                context["outlet_events"][asset].extra = {CYCLE_ID: cycle_id}

        # DuckDB allows one writer per file: dbt runs write analytics.duckdb one at a time (the pool
        # BATON_WAREHOUSE_POOL has one slot). Loads write their own raw files and need no slot.
        pool = {"pool": config.warehouse_pool} if config.warehouse_pool else {}
        build = job_operator(
            "build",
            ["dbt", "build", *select],
            config,
            outlets=outlets,
            pre_execute=check_pool,
            post_execute=publish,
            **pool,
        )
        gate() >> build
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
            f"dbt_{domain}",
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
