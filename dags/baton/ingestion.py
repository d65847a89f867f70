"""The ingestion DAG factory: one DAG per Meltano source, started by the cycle asset.

ingest_<source>:  extract_load (meltano run tap-<source> target-raw-<source>), one task that
                  emits raw_<source> with {cycle_id, rows} when the load succeeds

One task, not three: every task costs seconds of start-up on the critical path of a cycle, so the
cycle id is checked before the job starts and the event's extra is filled after it ends, in the
same task (pre_execute / post_execute hooks).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from baton.assets import CYCLE_ID, cycle_asset, raw_asset
from baton.config import Config
from baton.cycle import START, cycle_of_this_run
from baton.metadata import Source
from baton.runners import job_operator, rows_loaded


def build_ingestion_dag(source: Source, config: Config) -> DAG:
    cycle, raw = cycle_asset(), raw_asset(source.name)
    with DAG(
        dag_id=f"ingest_{source.name}",
        description=f"Extract-load the {source.name} source into raw_{source.name}.duckdb",
        doc_md=f"""Loads source **{source.name}** with Meltano (`meltano run {source.extractor} {source.loader}`),
incrementally from its state, then emits the asset `raw_{source.name}` with the cycle id and the rows
loaded. Runs when the `cycle` asset is emitted; a retry is safe (state-based, upserts by key).""",
        schedule=[cycle],
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["baton", "ingestion", f"source:{source.name}"],
        default_args={
            "owner": config.owner,
            "retries": config.ingestion_retries,
            "retry_delay": timedelta(minutes=config.ingestion_retry_delay_minutes),
            "execution_timeout": timedelta(minutes=config.ingestion_timeout_minutes),
        },
    ) as dag:

        def check_cycle(context) -> None:  # fail before loading when no cycle is open
            cycle_of_this_run(context)

        def publish(context, result) -> None:
            extra = {CYCLE_ID: cycle_of_this_run(context), "rows": rows_loaded(result)}
            context["outlet_events"][raw].extra = extra

        job_operator(
            "extract_load",
            ["meltano", "run", source.extractor, source.loader],
            config,
            inlets=[cycle],
            outlets=[raw],
            pre_execute=check_cycle,
            post_execute=publish,
        )
    return dag
