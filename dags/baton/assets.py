"""Asset naming: defined here once.

cycle           emitted by the cycle DAG              extra: {cycle_id}
raw_<source>    emitted by ingest_<source>            extra: {cycle_id, rows, reconciled, schema_changes}
dbt_<domain>    emitted by the dbt DAG of a domain    extra: {cycle_id}
"""

from __future__ import annotations

from airflow.sdk import Asset

CYCLE_ID = "cycle_id"
RAW_PREFIX = "raw_"


def cycle_asset() -> Asset:
    return Asset(name="cycle", uri="baton://cycle")


def raw_asset(source: str) -> Asset:
    return Asset(name=f"{RAW_PREFIX}{source}", uri=f"baton://raw/{source}")


def source_of(raw: Asset) -> str:
    """The source a raw_<source> asset is about."""
    return raw.name.removeprefix(RAW_PREFIX)


def dbt_asset(domain: str) -> Asset:
    return Asset(name=f"dbt_{domain}", uri=f"baton://dbt/{domain}")
