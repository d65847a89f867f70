"""The lake's maintenance DAG (warehouse `lake`): expire old snapshots, then delete their files.

Daily, after the cycle has had time to build: for every lake of the catalog (analytics and each
raw_<source>), `ducklake_expire_snapshots` drops the snapshots older than BATON_LAKE_RETENTION_DAYS
(settings.env, default 30) and `ducklake_cleanup_old_files` deletes the Parquet files that no kept
snapshot reads any more. `make query AT=<cycle>` reaches back as far as the snapshots kept.

It runs as a dbt operation in the jobs image (`dbt run-operation lake_maintenance`,
dbt/macros/lake_maintenance.sql), through the same runner as every job, so it connects to the lake
exactly as dbt builds do. In `files` mode the DAG has no schedule and its run does nothing.
"""

from __future__ import annotations

import json

from airflow.sdk import DAG

from baton.config import Config
from baton.cycle import START
from baton.ingestion import retry_args
from baton.runners import job_operator

DAG_ID = "lake_maintenance"
# Daily at 06:00, well after the cycle (just after midnight) has built.
SCHEDULE = "0 6 * * *"


def maintenance_command(retention_days: int) -> list[str]:
    return ["dbt", "run-operation", "lake_maintenance", "--args", json.dumps({"retention_days": retention_days})]


def build_maintenance_dag(config: Config) -> DAG:
    doc = (__doc__ or "").strip()
    with DAG(
        dag_id=DAG_ID,
        description=doc.splitlines()[0],
        doc_md=doc + f"\n\nWarehouse: `{config.warehouse}`; retention: {config.lake_retention_days} days.",
        schedule=SCHEDULE if config.warehouse == "lake" else None,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["baton", "dbt"],
        default_args={"owner": config.owner, **retry_args(config.dbt)},
    ) as dag:
        job_operator("expire_and_clean", maintenance_command(config.lake_retention_days), config)
    return dag
