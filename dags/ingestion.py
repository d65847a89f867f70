"""Airflow DAGs: one ingestion DAG per Meltano source (ingest_<source>), from the baked source list."""

from baton.config import load_config
from baton.ingestion import build_ingestion_dag
from baton.metadata import load_sources

config = load_config()
dags = [build_ingestion_dag(source, config) for source in load_sources(config.metadata_dir)]
