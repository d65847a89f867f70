"""Assets: the names come from baton_contract.naming, the one place the kit derives them.

cycle           emitted by the cycle DAG              extra: {cycle_id}
raw_<source>    emitted by ingest_<source>            extra: {cycle_id, rows, reconciled, schema_changes}
dbt_<domain>    emitted by the dbt DAG of a domain    extra: {cycle_id}
"""

from __future__ import annotations

from airflow.sdk import Asset
from baton_contract import naming

CYCLE_ID = "cycle_id"


def cycle_asset() -> Asset:
    return Asset(name=naming.CYCLE, uri="baton://cycle")


def raw_asset(source: str) -> Asset:
    return Asset(name=naming.raw_name(source), uri=f"baton://raw/{source}")


def source_of(raw: Asset | str) -> str:
    """The source a raw_<source> asset (or asset name) is about."""
    return naming.source_of(raw if isinstance(raw, str) else raw.name)


def dbt_asset(domain: str) -> Asset:
    return Asset(name=naming.dbt_dag(domain), uri=f"baton://dbt/{domain}")
