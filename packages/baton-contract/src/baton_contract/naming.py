"""Names derived from a source or a domain: defined here once.

source shop     plugins tap-shop / target-raw-shop, raw file raw_shop.duckdb (schema raw_shop
                in a lake), DAG ingest_shop, asset raw_shop
domain finance  DAG dbt_finance, asset dbt_finance
the cycle       DAG cycle, asset cycle
"""

from __future__ import annotations

RAW_PREFIX = "raw_"
INGEST_PREFIX = "ingest_"
DBT_PREFIX = "dbt_"
CYCLE = "cycle"


def plugins(source: str) -> tuple[str, str]:
    """(extractor, loader) of a source."""
    return f"tap-{source}", f"target-raw-{source}"


def raw_name(source: str) -> str:
    """The raw asset of a source, and its schema (lake) or database (files)."""
    return f"{RAW_PREFIX}{source}"


def raw_file(source: str) -> str:
    return f"{raw_name(source)}.duckdb"


def source_of(raw: str) -> str:
    """The source a raw_<source> name is about."""
    return raw.removeprefix(RAW_PREFIX)


def ingest_dag(source: str) -> str:
    return f"{INGEST_PREFIX}{source}"


def dbt_dag(domain: str) -> str:
    return f"{DBT_PREFIX}{domain}"
