"""Airflow DAGs for dbt: one per domain tag (multi) or one for everything (monolith), per baton.yml."""

from baton.config import load_config
from baton.dbt_dags import build_dbt_dags
from baton.metadata import load_manifest, load_sources

config = load_config()
dags = build_dbt_dags(config, load_manifest(config.metadata_dir), load_sources(config.metadata_dir))
