"""Airflow DAG: the Meltano state DAG (manual trigger): list, get, set, clear, restore state."""

from baton.config import load_config
from baton.state_dag import build_state_dag

dag = build_state_dag(load_config())
