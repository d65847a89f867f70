"""The sandbox in lake mode, last of the stack tests (file order): it switches the shared test
stack to BATON_WAREHOUSE=lake (its Airflow services recreated with the setting; catalog in the
metadata Postgres, data on the data volume), runs one cycle (after the sources' bookmarks start
over: the lake starts empty) through the real scheduler and asset triggers with no warehouse pool,
checks raw and marts against the source, the snapshot in each domain's event and `make query
AT=<cycle>`; runs the killed-job drill in lake mode (the ingest_shop container killed while it loads
1M new orders, one DuckLake transaction per batch); seeds a smaller sample (the lake's raw tables
start over, the marts are rebuilt in full); then goes back to files mode, its raw files loaded
again from the sources and its marts rebuilt from them."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import REPO
from tests.stack.conftest import Stack
from tests.stack.test_stack_faults import _drill_stopped_mid_load
from tools.batonctl import failure_lines, follow_cycle

pytestmark = pytest.mark.timeout(1800)


def _make(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(["make", *args], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"make {' '.join(args)} exited with {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc.stdout


def _number(text: str) -> int:
    numbers = re.findall(r"│\s*(\d+)\s*│", text) or re.findall(r"^\s*(\d+)\s*$", text, re.MULTILINE)
    assert numbers, text
    return int(numbers[-1])


def test_a_cycle_in_lake_mode(stack: Stack) -> None:
    lake = {**stack.env, "BATON_WAREHOUSE": "lake"}
    try:
        _make(lake, "stack-start")
        # The lake starts empty: the sources' bookmarks (files mode's) start over, as on a new sandbox.
        _make(lake, "seed", "ROWS=1000")
        result = follow_cycle(stack.airflow, quiet=True)
        assert result.ok, failure_lines(result)
        (source_orders,) = stack.source("select count(*) from shop.orders")[0]
        raw = _number(_make(lake, "query", "SQL=select count(*) from raw_shop.shop.orders"))
        marts = _number(_make(lake, "query", "SQL=select sum(orders_count) from analytics.main.revenue_daily"))
        assert raw == marts == source_orders
        events = stack.airflow.asset_events(
            source_dag_id="dbt_finance", source_run_id=result.runs["dbt_finance"]["dag_run_id"]
        )
        (extra,) = [e["extra"] for e in events]
        assert extra["cycle_id"] == result.cycle_id and extra["snapshot_id"] > 0
        then = _make(lake, "query", f"AT={result.cycle_id}", "SQL=select sum(orders_count) from main.revenue_daily")
        assert _number(then) == source_orders

        def lake_raw_equals_source() -> dict[str, int]:
            (orders, keys) = stack.source("select count(*), count(distinct order_id) from shop.orders")[0]
            sql = "select count(*) - count(distinct order_id) from raw_shop.shop.orders"
            assert _number(_make(lake, "query", f"SQL={sql}")) == 0, "an order twice in the lake's raw_shop"
            raw = _number(_make(lake, "query", "SQL=select count(*) from raw_shop.shop.orders"))
            assert raw == orders == keys, f"raw_shop.shop.orders has {raw} rows, the source {orders}"
            return {"orders": raw}

        # Healed within the cycle; its time is reported (the load into the lake is the slower one).
        _drill_stopped_mid_load(stack, "kill", lake_raw_equals_source, mode="lake", within=None)

        # A smaller sample: the lake's raw tables start over (no order of the 1M stays) and the
        # marts are rebuilt in full from them.
        _make(lake, "seed", "ROWS=500")
        reseeded = follow_cycle(stack.airflow, quiet=True)
        assert reseeded.ok, failure_lines(reseeded)
        assert lake_raw_equals_source() == {"orders": 500}
        marts = _number(_make(lake, "query", "SQL=select sum(orders_count) from analytics.main.revenue_daily"))
        assert marts == 500, f"the marts count {marts} orders after a seed of 500"
    finally:
        # Back to the warehouse the other stack tests expect, in the state they expect: the seed
        # cleared the bookmarks (shared by both modes) and the raw files, so files mode loads again.
        _make(stack.env, "stack-start")
        _make(stack.env, "seed", "ROWS=1000")
        restored = follow_cycle(stack.airflow, quiet=True)
        assert restored.ok, failure_lines(restored)
        stack.assert_raw_equals_source()
        # The marts' file still held the orders the earlier tests loaded: rebuilt from the new raw.
        (orders,) = stack.source("select count(*) from shop.orders")[0]
        marts = _number(_make(stack.env, "query", "SQL=select sum(orders_count) from analytics.main.revenue_daily"))
        assert marts == orders, f"the marts count {marts} orders, the source {orders}"
