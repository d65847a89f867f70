"""The dbt DAG factory: `monolith` (one DAG, `dbt build`) or `multi` (one DAG per domain tag).

In `multi`, a domain's schedule is the set of raw_<source> assets its tagged models read (dbt
manifest lineage, through ref chains), so a domain runs as soon as its own sources land.
    dbt_<domain>: gate (same cycle for every source) -> build (dbt build --select tag:<domain>,
                  emits dbt_<domain> with {cycle_id} when it succeeds)
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import DAG, PokeReturnValue, task

from baton.assets import CYCLE_ID, dbt_asset, raw_asset
from baton.config import Config
from baton.cycle import START
from baton.gating import decide, latest_cycle_ids
from baton.metadata import MetadataError, Source, domain_sources
from baton.runners import job_operator

# DuckDB allows one writer per file: dbt runs write analytics.duckdb one at a time (the pool is
# created with one slot by the stack's init). Loads write their own raw files and need no slot.
WAREHOUSE_POOL = "baton_warehouse"
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
        default_args={
            "owner": config.owner,
            "retries": config.dbt_retries,
            "retry_delay": timedelta(minutes=2),
            "execution_timeout": timedelta(minutes=config.dbt_timeout_minutes),
        },
    ) as dag:

        @task.sensor(
            inlets=raws,
            poke_interval=60,
            timeout=config.gating_wait_timeout_minutes * 60,
            mode="reschedule",
            retries=0,
        )
        def gate(**context) -> PokeReturnValue:
            ready, cycle_id, message = decide(latest_cycle_ids(context, raws), config.gating_policy)
            (log.warning if "mixed" in message else log.info)(message)
            return PokeReturnValue(is_done=ready, xcom_value=cycle_id)

        def publish(context, result) -> None:  # the build's own events carry the gate's cycle id
            cycle_id = context["ti"].xcom_pull(task_ids="gate")
            for asset in outlets:
                context["outlet_events"][asset].extra = {CYCLE_ID: cycle_id}

        build = job_operator(
            "build", ["dbt", "build", *select], config, pool=WAREHOUSE_POOL, outlets=outlets, post_execute=publish
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
            ["--select", f"tag:{domain}"],
            config,
            f"Builds the dbt domain '{domain}' (`dbt build --select tag:{domain}`) when its sources land.\n\n"
            f"Sources read by its models: {', '.join(sorted(lineage[domain])) or 'none'}.",
        )
        for domain in domains
    ]
