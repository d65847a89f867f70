"""Asset naming: defined here once.

cycle           emitted by the cycle DAG              extra: {cycle_id}
raw_<source>    emitted by ingest_<source>            extra: {cycle_id, rows}
dbt_<domain>    emitted by the dbt DAG of a domain    extra: {cycle_id}
"""

from __future__ import annotations

from airflow.sdk import Asset

CYCLE_ID = "cycle_id"


def cycle_asset() -> Asset:
    return Asset(name="cycle", uri="baton://cycle")


def raw_asset(source: str) -> Asset:
    return Asset(name=f"raw_{source}", uri=f"baton://raw/{source}")


def dbt_asset(domain: str) -> Asset:
    return Asset(name=f"dbt_{domain}", uri=f"baton://dbt/{domain}")
