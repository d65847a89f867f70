"""Airflow DAG: the lake's maintenance (warehouse `lake`): expire old snapshots, delete their files."""

from baton.config import load_config
from baton.maintenance import build_maintenance_dag

dag = build_maintenance_dag(load_config())
