"""A green load means complete, correct data: real Postgres, real Meltano runs through the kit's
extractor and loader, the ingestion job's reconciliation. Small batches (the ci environment: 500
rows) so every load spans several of them."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.datapath import MELTANO_PYTHON, DataPath

ORDERS = 2000


@pytest.fixture
def dp(shop_db, meltano_db, tmp_path: Path) -> DataPath:
    path = DataPath.fresh(shop_db, meltano_db, tmp_path, ORDERS, days=10)
    path.execute("drop table if exists shop.notes")
    return path


def _bookmark(dp: DataPath, source: str, stream: str) -> str | None:
    state = dp.run("meltano", "state", "get", dp.state_id(source), check=False).stdout.strip()
    if not state:
        return None
    return json.loads(state)["singer_state"]["bookmarks"][stream].get("replication_key_value")


@pytest.mark.parametrize("mode", ["records", "copy"])
def test_an_all_text_table_loses_no_row_over_several_batches(dp: DataPath, mode: str) -> None:
    dp.execute("create table shop.notes (note_id text primary key, body text, updated_at text not null)")
    dp.execute(
        "insert into shop.notes select 'n' || i, case when i % 7 = 0 then '' when i % 11 = 0 then null "
        "else 'note ' || i end, '2026-01-01 00:00:' || lpad((i % 60)::text, 2, '0') from generate_series(1, 1601) i"
    )
    dp.extra_env.update({"TAP_SHOP__SELECT": '["shop-notes.*"]', "TAP_SHOP_EXPORT_MODE": mode})
    result = dp.job_result(dp.job("shop"))
    assert result["reconciled"]["shop-notes"]["raw"] == 1601 == result["reconciled"]["shop-notes"]["source"]
    rows = dp.warehouse_query("raw_shop", "select count(*), count(distinct note_id) from shop.notes")[0]
    assert rows == (1601, 1601)
    # Empty strings and NULLs stay apart.
    blanks = dp.warehouse_query(
        "raw_shop", "select count(*) filter (where body = ''), count(*) - count(body) from shop.notes"
    )
    assert blanks[0] == dp.source("select count(*) filter (where body = ''), count(*) - count(body) from shop.notes")[0]


def test_a_file_source_without_type_overrides_loses_no_row(dp: DataPath) -> None:
    # Files declared without schema_overrides: every column arrives as text. 3 files x 600 rows.
    dp.marketing.mkdir(exist_ok=True)
    for f in range(3):
        lines = ["spend_date,campaign_key,channel,impressions,clicks,spend_eur"]
        lines += [f"2026-02-0{f + 1},c{i:04d},email,{i},{i // 10},{i}.50" for i in range(600)]
        (dp.marketing / f"ad_spend_2026-02-0{f + 1}.csv").write_text("\n".join(lines) + "\n")
    files = [{"path": str(dp.marketing / "ad_spend_*.csv"), "format": "csv", "table_name": "ad_spend",
              "primary_keys": ["spend_date", "campaign_key"]}]  # fmt: skip
    dp.extra_env["TAP_MARKETING_FILES"] = json.dumps(files)
    for path in dp.marketing.glob("ad_spend_2026-01-*.csv"):
        path.unlink()
    result = dp.job_result(dp.job("marketing"))
    assert result["reconciled"]["ad_spend"]["raw"] == 1800 == result["reconciled"]["ad_spend"]["source"]
    assert dp.warehouse_query("raw_marketing", "select count(*) from marketing.ad_spend")[0][0] == 1800


def test_the_catalog_is_kept_between_runs_and_discovered_again_when_the_source_changes(dp: DataPath) -> None:
    dp.execute("create table shop.notes (note_id bigint primary key, body text, updated_at timestamptz not null)")
    dp.execute("insert into shop.notes select i, 'note ' || i, now() from generate_series(1, 50) i")
    dp.extra_env["TAP_SHOP__SELECT"] = '["shop-notes.*"]'
    discovered, kept = "catalog is discovered", "catalog as an earlier run discovered it"

    first = dp.job("shop")
    assert discovered in first.stdout and "Running catalog discovery" in first.stdout, first.stdout[-3000:]
    second = dp.job("shop")
    assert kept in second.stdout and "Running catalog discovery" not in second.stdout, second.stdout[-3000:]

    # A column added at the source: discovered again, and it lands.
    dp.execute("alter table shop.notes add column mood text")
    dp.execute("update shop.notes set mood = 'glad', updated_at = now() where note_id = 7")
    third = dp.job("shop")
    assert discovered in third.stdout, third.stdout[-3000:]
    assert dp.warehouse_query("raw_shop", "select mood from shop.notes where note_id = 7") == [("glad",)]

    # A changed setting of the extractor, then the cache turned off: discovered each time.
    dp.extra_env["TAP_SHOP_BATCH_SIZE_ROWS"] = "1000"
    assert discovered in dp.job("shop").stdout
    dp.extra_env["BATON_EL_CATALOG_CACHE"] = "off"
    off = dp.job("shop")
    assert "Running catalog discovery" in off.stdout and kept not in off.stdout and discovered not in off.stdout
    assert dp.job_result(off)["reconciled"]["shop-notes"]["raw"] == 50


def test_money_lands_exact_and_keys_are_bigint(dp: DataPath) -> None:
    dp.job("shop")
    (raw_sum,) = dp.warehouse_query("raw_shop", "select sum(amount) from shop.orders")[0]
    (source_sum,) = dp.source("select sum(amount) from shop.orders")[0]
    assert isinstance(raw_sum, Decimal) and raw_sum == source_sum
    types = dict(
        dp.warehouse_query(
            "raw_shop",
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'shop' and table_name = 'orders'",
        )
    )
    assert types["amount"] == "DECIMAL(12,2)" and types["order_id"] == "BIGINT"
    assert types["updated_at"] == "TIMESTAMP WITH TIME ZONE"


def test_an_infinity_timestamp_does_not_stop_new_and_changed_rows(dp: DataPath) -> None:
    dp.job("shop")
    dp.execute("update shop.orders set updated_at = 'infinity' where order_id = 1")
    first = dp.job("shop")
    warning = [line for line in first.stdout.splitlines() if "lies in the future" in line and "shop-orders" in line]
    assert warning and ("infinity" in warning[0] or "9999" in warning[0]), first.stdout[-3000:]
    bookmark = _bookmark(dp, "shop", "shop-orders")
    assert bookmark and not bookmark.startswith("9999") and "infinity" not in bookmark

    dp.execute(
        "insert into shop.orders select 99999, customer_id, product_id, 1, 10.00, 'placed', null, now(), now() "
        "from shop.orders where order_id = 2"
    )
    dp.execute("update shop.orders set status = 'cancelled', updated_at = now() where order_id = 3")
    dp.job("shop")
    landed = dict(
        dp.warehouse_query("raw_shop", "select order_id, status from shop.orders where order_id in (3, 99999)")
    )
    assert landed == {3: "cancelled", 99999: "placed"}
    assert dp.warehouse_query("raw_shop", "select count(*) from shop.orders")[0][0] == ORDERS + 1


def test_nan_fails_the_job_naming_it_and_changes_nothing(dp: DataPath) -> None:
    dp.job("shop")
    before = dp.warehouse_query("raw_shop", "select * from shop.orders order by order_id")
    state_before = dp.run("meltano", "state", "get", dp.state_id("shop")).stdout
    dp.execute("update shop.orders set amount = 'NaN', updated_at = now() where order_id = 7")
    result = dp.job("shop", check=False)
    assert result.returncode == 3, result.stdout[-3000:]
    assert "shop-orders" in result.stdout and "amount" in result.stdout and "7" in result.stdout
    assert "NaN" in result.stdout or "non-finite" in result.stdout
    assert dp.warehouse_query("raw_shop", "select * from shop.orders order by order_id") == before
    assert dp.run("meltano", "state", "get", dp.state_id("shop")).stdout == state_before


def test_a_killed_load_resumes_without_loss_or_duplicates(dp: DataPath) -> None:
    dp.extra_env["TAP_SHOP_EXPORT_MODE"] = "records"
    proc = dp.start("meltano", "run", "tap-shop", "target-raw-shop")
    raw = dp.warehouse / "raw_shop.duckdb"
    deadline = time.monotonic() + 120
    while not raw.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.5)
    for child in _children(proc.pid):
        child.send_signal(signal.SIGKILL)
    proc.kill()
    proc.wait()
    dp.job("shop")
    for table, key in (("customers", "customer_id"), ("products", "product_id"), ("orders", "order_id")):
        (source_count,) = dp.source(f"select count(*) from shop.{table}")[0]
        assert dp.warehouse_query("raw_shop", f"select count(*), count(distinct {key}) from shop.{table}")[0] == (
            source_count,
            source_count,
        ), table


def _children(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_a_raw_row_deleted_behind_the_loaders_back_fails_the_next_cycle(dp: DataPath) -> None:
    dp.job("shop")
    import duckdb

    with duckdb.connect(str(dp.warehouse / "raw_shop.duckdb")) as conn:
        conn.execute("delete from shop.orders where order_id = 11")
    result = dp.job("shop", check=False)
    assert result.returncode == 3
    assert (
        f"shop-orders: raw has 1 row(s) fewer than the source ({ORDERS - 1} against {ORDERS}): a lost load or rows "
        "deleted in raw" in result.stderr + result.stdout
    )
    assert dp.job_result(result)["ok"] is False


def test_the_source_key_count_trusts_a_primary_key_and_counts_distinct_keys_otherwise(dp: DataPath) -> None:
    """The reconciliation's source key count: a table whose primary key the keys hold has a
    distinct key per row (no count(distinct), a sort of the whole table); any other keys are counted."""
    import psycopg
    from reconciliation import _holds_primary_key

    dp.execute("drop table if exists shop.pairs, shop.loose")
    dp.execute("create table shop.pairs (a int, b int, c int, primary key (a, b))")
    dp.execute("create table shop.loose (a int, b int)")
    with psycopg.connect(dp.shop_url) as pg:
        assert _holds_primary_key(pg, "shop.pairs", ["a", "b"])
        assert _holds_primary_key(pg, '"shop"."pairs"', ["c", "b", "a"])
        assert not _holds_primary_key(pg, "shop.pairs", ["a"])  # half the key: not distinct per row
        assert not _holds_primary_key(pg, "shop.loose", ["a", "b"])  # no primary key
        assert _holds_primary_key(pg, "shop.orders", ["order_id"])
    dp.execute("drop table shop.pairs, shop.loose")


def test_rows_changed_after_the_load_count_where_raw_holds_them(dp: DataPath) -> None:
    """The source moves on between the load and the reconciliation: two loaded orders change and a
    new one arrives, all past raw's newest bookmark. Raw must hold the source's rows up to that
    bookmark plus the changed rows it holds already; the new order is the next load's."""
    dp.job("shop")
    (newest,) = dp.source("select max(order_id) from shop.orders")[0]
    dp.execute(
        "create temp table moved as select * from shop.orders where order_id = 5;"
        f"update moved set order_id = {newest + 1};"
        "insert into shop.orders select * from moved;"
        "update shop.orders set updated_at = now() + interval '1 day'"
        f" where order_id in (3, 4, {newest + 1})"
    )
    reconcile_alone = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, 'bin');"
        "from baton_contract.declaration import declaration;"
        "from reconciliation import Load, reconcile, mismatches;"
        "figures = reconcile(declaration('shop', Path('.')), Load(None, {}, {}));"
        "print(json.dumps({'figures': figures, 'mismatches': mismatches(figures)}))"
    )
    out = subprocess.run(
        [str(MELTANO_PYTHON), "-c", reconcile_alone],
        cwd=REPO / "meltano",
        env=dp.env(),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    orders = result["figures"]["shop-orders"]
    assert orders["source"] == ORDERS + 1
    assert orders["expected"] == orders["raw"] == ORDERS  # the new order is not expected yet
    assert result["mismatches"] == []
