"""The sandbox end to end, as a user drives it: `make up` from nothing, cycles through the real
scheduler and asset triggers (REST API), marts checked against the source, `make down`.

The stack under test is a separate compose project (its own ports, env file and data folder), so
running the tests never touches a user's own sandbox. The steps build on each other: run the module.
"""

from __future__ import annotations

import csv
import hashlib
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from samples.generate import COLUMNS
from tests.stack.conftest import Stack
from tools.batonctl import failure_lines, follow_cycle

# `make up` (first cycle included) runs in the first test's setup.
pytestmark = pytest.mark.timeout(1800)

SHOP_TABLES = ("customers", "products", "orders")
REVENUE_STATUSES = ("placed", "shipped", "completed")


def _assert_marts_match_source(stack: Stack) -> None:
    (mart_revenue, mart_orders) = stack.warehouse_query(
        "analytics", "select sum(revenue), sum(orders_count) from main.revenue_daily"
    )[0]
    (source_revenue, source_orders) = stack.source(
        "select sum(amount) filter (where status = any(%s)), count(*) from shop.orders",
        (list(REVENUE_STATUSES),),
    )[0]
    assert mart_orders == source_orders
    assert round(float(mart_revenue), 2) == round(float(source_revenue), 2)
    (mart_orders_rows,) = stack.warehouse_query("analytics", "select count(*) from main.orders")[0]
    assert mart_orders_rows == source_orders
    # One marketing file per day: every file landed.
    (days,) = stack.warehouse_query("raw_marketing", "select count(distinct spend_date) from marketing.ad_spend")[0]
    assert days == len(list(stack.marketing.glob("ad_spend_*.csv")))


def _marts_fingerprint(stack: Stack) -> dict[str, str]:
    marts = ("orders", "revenue_daily", "campaign_performance")
    return {
        mart: hashlib.sha256(
            repr(stack.warehouse_query("analytics", f"select * from main.{mart} order by all")).encode()
        ).hexdigest()
        for mart in marts
    }


def _write_ad_spend_history(out_dir: Path, days: int, campaigns: int) -> None:
    rng = random.Random(0)
    for i in range(1, days + 1):
        day = date(2026, 1, 1) - timedelta(days=i)
        path = out_dir / f"ad_spend_{day.isoformat()}.csv"
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for c in range(campaigns):
                impressions = rng.randint(1_000, 50_000)
                writer.writerow(
                    [day, f"archive_{c:04d}", "display", impressions, impressions // 100, f"{rng.uniform(10, 900):.2f}"]
                )


def test_up_brings_the_stack_and_a_green_first_cycle(stack: Stack) -> None:
    # `make up` (the fixture) ran the first cycle; every service is healthy.
    assert stack.unhealthy_services() == []
    runs = {dag_id: stack.airflow.runs(dag_id, limit=1, order_by="-run_after") for dag_id in stack.cycle_dags()}
    assert set(runs) >= {"ingest_shop", "ingest_marketing", "dbt_finance", "dbt_marketing"}
    for dag_id, latest in runs.items():
        assert latest and latest[0]["state"] == "success", f"{dag_id}: {latest}"
    stack.assert_raw_equals_source()
    _assert_marts_match_source(stack)


def test_next_day_moves_only_new_and_changed_rows(stack: Stack) -> None:
    bookmarks = {
        t: stack.warehouse_query("raw_shop", f"select max(updated_at) from shop.{t}")[0][0] for t in SHOP_TABLES
    }
    stack.make("next-day")
    # tap-postgres compares the replication key inclusively: the bookmark's own rows come again.
    expected = sum(
        stack.source(f"select count(*) from shop.{t} where updated_at >= %s", (bookmarks[t],))[0][0]
        for t in SHOP_TABLES
    )
    (total,) = stack.source("select (select count(*) from shop.orders) + (select count(*) from shop.customers)")[0]

    result = follow_cycle(stack.airflow, quiet=True)
    assert result.ok, failure_lines(result)
    assert result.rows["ingest_shop"] == expected
    assert expected < total * 0.1
    stack.assert_raw_equals_source()
    _assert_marts_match_source(stack)
    stack.last_cycle = result.cycle_id


def test_the_same_cycle_again_changes_nothing(stack: Stack) -> None:
    before = _marts_fingerprint(stack)
    result = follow_cycle(stack.airflow, cycle_id=stack.last_cycle, quiet=True)
    assert result.ok, failure_lines(result)
    assert result.cycle_id == stack.last_cycle
    assert _marts_fingerprint(stack) == before


def test_finance_does_not_wait_for_a_slow_marketing_source(stack: Stack) -> None:
    # A year of history of every campaign ever run, exported by the ad platform at once, makes
    # marketing ingestion slow (well over 100k rows against the shop's few hundred new ones).
    _write_ad_spend_history(stack.marketing, days=300, campaigns=stack.history_campaigns)
    result = follow_cycle(stack.airflow, quiet=True)
    assert result.ok, failure_lines(result)
    finance_done = result.runs["dbt_finance"]["end_date"]
    marketing_done = result.runs["ingest_marketing"]["end_date"]
    assert finance_done < marketing_done, f"dbt_finance ended {finance_done}, ingest_marketing {marketing_done}"
    # ... and the marketing domain waited for its slow source's event of this cycle.
    events = stack.airflow.asset_events(
        source_dag_id="ingest_marketing", source_run_id=result.runs["ingest_marketing"]["dag_run_id"]
    )
    assert [e["extra"]["cycle_id"] for e in events] == [result.cycle_id]
    landed = datetime.fromisoformat(events[0]["timestamp"])
    assert datetime.fromisoformat(result.runs["dbt_marketing"]["start_date"]) >= landed
    _assert_marts_match_source(stack)


def test_down_leaves_no_containers(stack: Stack) -> None:
    stack.make("down")
    assert stack.containers() == []
