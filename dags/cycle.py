"""Airflow DAG: the daily cycle, which emits the `cycle` asset that starts every ingestion DAG."""

from baton.config import load_config
from baton.cycle import build_cycle_dag

dag = build_cycle_dag(load_config())
