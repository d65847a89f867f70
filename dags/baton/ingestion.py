"""The ingestion DAG factory: one DAG per Meltano source, started by the cycle asset.

ingest_<source>:  cycle_id -> extract_load (meltano run tap-<source> target-raw-<source>)
                  -> publish (emits raw_<source> with {cycle_id, rows})
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, task

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

        @task(inlets=[cycle])
        def cycle_id(**context) -> str:
            return cycle_of_this_run(context)

        extract_load = job_operator("extract_load", ["meltano", "run", source.extractor, source.loader], config)

        @task(outlets=[raw])
        def publish(cycle_id: str, **context) -> dict:
            extra = {CYCLE_ID: cycle_id, "rows": rows_loaded(context["ti"].xcom_pull(task_ids="extract_load"))}
            context["outlet_events"][raw].extra = extra
            return extra

        cid = cycle_id()
        cid >> extract_load >> publish(cid)
    return dag
