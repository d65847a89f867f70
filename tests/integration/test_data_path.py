"""The data path on real tools: shop (Postgres) and marketing (CSV files) -> Meltano -> one raw
DuckDB file per source -> dbt domains, with Meltano's state in Postgres."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from samples.generate import ad_spend_rows
from tests.integration.datapath import SOURCES, DataPath

# The ci environment loads in batches of 500 rows: 2,500 orders span five batches, so a loader
# that loses a row per batch (target-duckdb with duckdb >= 1.3) cannot pass the count checks.
ORDERS = 2500
DAYS = 30
CAMPAIGNS = 5
REVENUE_STATUSES = ("placed", "shipped", "completed")


@pytest.fixture
def dp(shop_db, meltano_db, tmp_path: Path) -> DataPath:
    return DataPath.fresh(shop_db, meltano_db, tmp_path, ORDERS, DAYS)


def _bookmark(state: str, stream: str) -> str:
    return json.loads(state)["singer_state"]["bookmarks"][stream]["replication_key_value"]


def _loader_summary(output: str, stream: str) -> dict:
    """The loader's `baton-loader: {...}` line of `stream` in a run's output."""
    marker = f'baton-loader: {{"stream": "{stream}"'
    line = next(line for line in output.splitlines() if marker in line)
    value, _ = json.JSONDecoder().raw_decode(line[line.index(marker) + len("baton-loader: ") :])
    return value


def _raw_count(dp: DataPath, source: str, table: str) -> int:
    return dp.warehouse_query(f"raw_{source}", f"select count(*) from {source}.{table}")[0][0]


def test_full_load_lands_every_row(dp: DataPath) -> None:
    dp.el("shop")
    dp.el("marketing")
    for table in ("customers", "products", "orders"):
        (source_count,) = dp.source(f"select count(*) from shop.{table}")[0]
        assert _raw_count(dp, "shop", table) == source_count, table
    assert _raw_count(dp, "shop", "orders") == ORDERS
    assert _raw_count(dp, "marketing", "ad_spend") == DAYS * CAMPAIGNS


def test_incremental_moves_only_new_and_changed_rows(dp: DataPath) -> None:
    dp.el("shop")
    before = dp.state("shop")
    bookmark = _bookmark(before, "shop-orders")
    (last_batch,) = dp.warehouse_query("raw_shop", "select max(_sdc_batched_at) from shop.orders")[0]

    day = dp.next_day(new_pct=1)
    # What an incremental extraction must move: rows updated after the bookmark. The bookmark's
    # own rows come again (the replication key comparison is inclusive), but the loader does not
    # rewrite them: they are unchanged, and keep the _sdc_batched_at of their first load.
    (expected_moved,) = dp.source("select count(*) from shop.orders where updated_at > %s", (bookmark,))[0]
    (at_bookmark,) = dp.source("select count(*) from shop.orders where updated_at = %s", (bookmark,))[0]
    (new_orders,) = dp.source("select count(*) from shop.orders where created_at::date = %s", (day,))[0]
    (changed_orders,) = dp.source(
        "select count(*) from shop.orders where updated_at::date = %s and created_at::date < %s", (day, day)
    )[0]
    assert new_orders == ORDERS // 100 and changed_orders > 0

    result = dp.el("shop")
    moved = dp.warehouse_query("raw_shop", f"select count(*) from shop.orders where _sdc_batched_at > '{last_batch}'")[
        0
    ][0]
    assert moved == expected_moved
    summary = _loader_summary(result.stdout + result.stderr, "shop-orders")
    assert summary["rows"] == expected_moved + at_bookmark and at_bookmark > 0
    assert summary["unchanged"] == at_bookmark and summary["inserted"] + summary["updated"] == expected_moved
    assert moved < ORDERS * 0.05, "an incremental run moved a large share of the table"

    (source_count,) = dp.source("select count(*) from shop.orders")[0]
    raw_count, distinct_ids = dp.warehouse_query(
        "raw_shop", "select count(*), count(distinct order_id) from shop.orders"
    )[0]
    assert raw_count == distinct_ids == source_count == ORDERS + new_orders

    # Changed rows carry their new status in the warehouse.
    changed = dict(dp.source("select order_id, status from shop.orders where updated_at::date = %s", (day,)))
    raw = dict(
        dp.warehouse_query(
            "raw_shop",
            f"select order_id, status from shop.orders where order_id in ({','.join(map(str, changed))})",
        )
    )
    assert raw == changed

    # The state in Postgres advanced to the newest updated_at.
    (newest,) = dp.source("select max(updated_at) from shop.orders")[0]
    after = datetime.fromisoformat(_bookmark(dp.state("shop"), "shop-orders"))
    assert after == newest > datetime.fromisoformat(bookmark)


def test_sources_load_at_the_same_moment(dp: DataPath) -> None:
    runs = {source: dp.start("meltano", "run", tap, target) for source, (tap, target) in SOURCES.items()}
    outputs = {source: proc.communicate(timeout=600)[0] for source, proc in runs.items()}
    for source, proc in runs.items():
        assert proc.returncode == 0, f"{source} failed while loading in parallel:\n{outputs[source][-4000:]}"
    assert _raw_count(dp, "shop", "orders") == ORDERS
    assert _raw_count(dp, "marketing", "ad_spend") == DAYS * CAMPAIGNS


def test_dbt_builds_each_domain_from_its_own_sources(dp: DataPath) -> None:
    dp.el("shop")
    # Finance reads shop only: it builds while the marketing source has never been loaded.
    assert not (dp.warehouse / "raw_marketing.duckdb").exists()
    finance = dp.run("dbt", "build", "--select", "+tag:finance")
    assert "raw_marketing" not in finance.stdout
    (mart_revenue, mart_orders) = dp.warehouse_query(
        "analytics", "select sum(revenue), sum(orders_count) from main.revenue_daily"
    )[0]
    (source_revenue, source_orders) = dp.source(
        "select sum(amount) filter (where status = any(%s)), count(*) from shop.orders", (list(REVENUE_STATUSES),)
    )[0]
    assert mart_orders == source_orders == ORDERS
    assert round(float(mart_revenue), 2) == round(float(source_revenue), 2)
    tables = {t for (t,) in dp.warehouse_query("analytics", "select table_name from information_schema.tables")}
    assert "campaign_performance" not in tables and "stg_ad_spend" not in tables

    dp.el("marketing")
    dp.run("dbt", "build", "--select", "+tag:marketing")
    rows = dp.warehouse_query(
        "analytics", "select count(*), sum(spend_eur), sum(orders_count) from main.campaign_performance"
    )[0]
    (attributed,) = dp.source("select count(*) from shop.orders where campaign_key is not null")[0]
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(DAYS)]
    spend = sum(float(row["spend_eur"]) for day in days for row in ad_spend_rows(day))
    assert rows[0] == CAMPAIGNS
    assert round(float(rows[1]), 2) == round(spend, 2)
    assert rows[2] == attributed


def test_malformed_marketing_file_fails_and_changes_nothing(dp: DataPath) -> None:
    dp.el("marketing")
    table_before = dp.warehouse_query("raw_marketing", "select * from marketing.ad_spend order by all")
    state_before = dp.state("marketing")

    bad = dp.marketing / "ad_spend_2026-01-31.csv"
    bad.write_text(
        "spend_date,campaign_key,channel,impressions,clicks,spend_eur\n"
        "2026-01-31,newsletter,email,1000,12,not-a-number\n"
    )
    result = dp.el("marketing", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ad_spend_2026-01-31.csv" in output, output[-3000:]
    assert "schema validation" in output

    assert dp.warehouse_query("raw_marketing", "select * from marketing.ad_spend order by all") == table_before
    assert dp.state("marketing") == state_before
