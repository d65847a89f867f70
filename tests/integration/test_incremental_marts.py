"""Incremental marts equal a full refresh, row for row, after days of inserts, updates and late changes;
their data tests read the rows loaded since they last passed (dbt/macros/changed_rows.sql), the whole
table when the code changed; and the dbt job (dbt/bin/dbt_job.py) fails a build whose data tests fail
as bad data, naming them.

Real dbt (.venvs/dbt) on real DuckDB raw files, written here the way the loader writes them: one
file per source, rows upserted by key, each write stamped with `_sdc_batched_at` (the load time).
Four days are loaded into one warehouse and built incrementally after each day; the same raw
files are then built with --full-refresh into a second warehouse, and every mart is compared both
ways (EXCEPT ALL): no row may differ.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from target_baton_duckdb import warehouse

from tests.conftest import REPO

DBT = REPO / ".venvs" / "dbt" / "bin" / "dbt"
MARTS = ("orders", "revenue_daily", "campaign_daily", "campaign_performance")
CAMPAIGNS = ("spring_sale", "newsletter", "retargeting", "brand_search", None)
STATUSES = ("placed", "shipped", "completed", "cancelled", "returned")
DAY1 = date(2026, 11, 20)

SHOP_DDL = """
create schema if not exists shop;
create table if not exists shop.customers (customer_id bigint, full_name varchar, email varchar, country varchar,
    created_at timestamptz, updated_at timestamptz, _sdc_batched_at timestamptz);
create table if not exists shop.products (product_id integer, product_name varchar, category varchar,
    unit_price decimal(10,2), created_at timestamptz, updated_at timestamptz, _sdc_batched_at timestamptz);
create table if not exists shop.orders (order_id bigint, customer_id bigint, product_id integer, quantity integer,
    amount decimal(12,2), status varchar, campaign_key varchar, created_at timestamptz, updated_at timestamptz,
    _sdc_batched_at timestamptz);
"""
MARKETING_DDL = """
create schema if not exists marketing;
create table if not exists marketing.ad_spend (spend_date varchar, campaign_key varchar, channel varchar,
    impressions bigint, clicks bigint, spend_eur decimal(12,2), _sdc_filename varchar, _sdc_batched_at timestamptz);
"""
KEYS = {"shop.customers": ["customer_id"], "shop.products": ["product_id"], "shop.orders": ["order_id"],
        "marketing.ad_spend": ["spend_date", "campaign_key"]}  # fmt: skip


class Raw:
    """The raw files of both sources and the loader's way of writing them: upsert by key, stamped."""

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse
        for source, ddl in (("shop", SHOP_DDL), ("marketing", MARKETING_DDL)):
            with duckdb.connect(str(warehouse / f"raw_{source}.duckdb")) as conn:
                conn.execute(ddl)

    def load(self, table: str, rows: list[dict]) -> None:
        """One load of `rows` into `table`: replaces the rows with the same key, stamps the load time."""
        source = table.split(".")[0]
        with duckdb.connect(str(self.warehouse / f"raw_{source}.duckdb")) as conn:
            columns = [c for c in rows[0] if c != "_sdc_batched_at"]
            keys = KEYS[table]
            conn.execute("begin")
            for row in rows:
                conn.execute(
                    f"delete from {table} where " + " and ".join(f"{k} = ?" for k in keys), [row[k] for k in keys]
                )
                conn.execute(
                    f"insert into {table} ({', '.join(columns)}, _sdc_batched_at) "
                    f"values ({', '.join('?' for _ in columns)}, now())",
                    [row[c] for c in columns],
                )
            conn.execute("commit")

    def rows(self, table: str, where: str = "true") -> list[dict]:
        source = table.split(".")[0]
        with duckdb.connect(str(self.warehouse / f"raw_{source}.duckdb"), read_only=True) as conn:
            cur = conn.execute(f"select * exclude (_sdc_batched_at) from {table} where {where}")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, values, strict=True)) for values in cur.fetchall()]


def _ts(day: date, hour: int = 10) -> str:
    return f"{day.isoformat()} {hour:02d}:00:00+00"


def _order(rng: random.Random, order_id: int, day: date) -> dict:
    return {
        "order_id": order_id,
        "customer_id": rng.randint(1, 20),
        "product_id": rng.randint(1, 5),
        "quantity": rng.randint(1, 4),
        "amount": round(rng.uniform(5, 500), 2),
        "status": "placed",
        "campaign_key": rng.choice(CAMPAIGNS),
        "created_at": _ts(day, rng.randint(0, 23)),
        "updated_at": _ts(day, 23),
    }


def _customers(rng: random.Random) -> list[dict]:
    since = _ts(DAY1 - timedelta(days=30))
    return [
        {
            "customer_id": c,
            "full_name": f"Customer {c}",
            "email": f"c{c}@example.com",
            "country": rng.choice(["DE", "FR", "NL"]),
            "created_at": since,
            "updated_at": since,
        }
        for c in range(1, 21)
    ]


def _products() -> list[dict]:
    since = _ts(DAY1 - timedelta(days=60))
    return [
        {
            "product_id": p,
            "product_name": f"Product {p}",
            "category": ["books", "toys", "games"][p % 3],
            "unit_price": round(9.99 * p, 2),
            "created_at": since,
            "updated_at": since,
        }
        for p in range(1, 6)
    ]


def _spend(day: date, campaign: str, amount: float) -> dict:
    return {
        "spend_date": day.isoformat(),
        "campaign_key": campaign,
        "channel": "search" if "search" in campaign else "social",
        "impressions": int(amount * 40),
        "clicks": int(amount),
        "spend_eur": amount,
        "_sdc_filename": f"ad_spend_{day.isoformat()}.csv",
    }


def _changed(row: dict, day: date, **values) -> dict:
    return {**row, **values, "updated_at": _ts(day, 12)}


def _dbt_env(warehouse: Path) -> dict[str, str]:
    """The environment of a dbt run on the raw files and analytics.duckdb in `warehouse`."""
    return {
        **os.environ,
        "BATON_WAREHOUSE_DIR": str(warehouse),
        "DBT_PROFILES_DIR": str(REPO / "dbt"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _dbt(
    warehouse: Path, *args: str, ok: bool = True, project: Path = REPO / "dbt"
) -> subprocess.CompletedProcess[str]:
    env = _dbt_env(warehouse)
    # Each warehouse gets its own target folder: run_results.json is read per build.
    cmd = [str(DBT), *args, "--project-dir", str(project), "--target-path", str(warehouse / "target")]
    result = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    assert (result.returncode == 0) == ok, (
        f"{' '.join(args)}: exit {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    )
    return result


def _failed_tests(warehouse: Path) -> dict[str, int]:
    """The data tests of the last build that failed: {test name: failing rows}."""
    results = json.loads((warehouse / "target" / "run_results.json").read_text())["results"]
    return {
        r["unique_id"].split(".")[2]: r["failures"]
        for r in results
        if r["unique_id"].startswith("test.") and r["status"] == "fail"
    }


def _differences(incremental: Path, full: Path, table: str) -> tuple[int, int, int]:
    """(rows in the table, rows only in the incremental build, rows only in the full refresh)."""
    with duckdb.connect() as conn:
        conn.execute(f"attach '{incremental}' as inc (read_only)")
        conn.execute(f"attach '{full}' as ful (read_only)")
        (count,) = conn.execute(f"select count(*) from ful.main.{table}").fetchone()
        (only_inc,) = conn.execute(
            f"select count(*) from (select * from inc.main.{table} except all select * from ful.main.{table})"
        ).fetchone()
        (only_full,) = conn.execute(
            f"select count(*) from (select * from ful.main.{table} except all select * from inc.main.{table})"
        ).fetchone()
    return count, only_inc, only_full


@pytest.fixture
def warehouses(tmp_path: Path) -> tuple[Path, Path]:
    if not DBT.exists():
        pytest.fail(f"{DBT} is missing: run `make setup` first", pytrace=False)
    incremental, full = tmp_path / "incremental", tmp_path / "full"
    incremental.mkdir()
    full.mkdir()
    return incremental, full


def _day_one(warehouse: Path, seed: int, orders: int) -> tuple[Raw, random.Random]:
    """Raw files holding the customers, the products and `orders` orders of day 1."""
    rng = random.Random(seed)
    raw = Raw(warehouse)
    raw.load("shop.customers", _customers(rng))
    raw.load("shop.products", _products())
    raw.load("shop.orders", [_order(rng, i, DAY1) for i in range(1, orders + 1)])
    return raw, rng


def _assert_equal_to_a_full_refresh(incremental: Path, full: Path) -> None:
    """The same raw data built from scratch into `full`: every mart equals the incremental one, row for row."""
    for source in ("shop", "marketing"):
        shutil.copy(incremental / f"raw_{source}.duckdb", full / f"raw_{source}.duckdb")
    _dbt(full, "build", "--full-refresh")
    for table in MARTS:
        count, only_incremental, only_full = _differences(
            incremental / "analytics.duckdb", full / "analytics.duckdb", table
        )
        assert count > 0, f"{table} is empty"
        assert (only_incremental, only_full) == (0, 0), (
            f"{table}: {only_incremental} rows only in the incremental build, {only_full} only in the full refresh"
        )


def _incremental_build(warehouse: Path) -> None:
    """A build that stays incremental: no mart rebuilt in full, as none of its raw tables was made anew."""
    output = _dbt(warehouse, "build").stdout
    assert "in full: every row of" not in output, output[-4000:]


def test_incremental_builds_equal_a_full_refresh_after_days_of_changes(warehouses: tuple[Path, Path]) -> None:
    incremental, full = warehouses
    rng = random.Random(20261120)
    raw = Raw(incremental)
    day2, day3, day4 = (DAY1 + timedelta(days=n) for n in (1, 2, 3))

    # Day 1: customers, products, 300 orders over the three days before and day 1, spend for each.
    raw.load("shop.customers", _customers(rng))
    raw.load("shop.products", _products())
    raw.load("shop.orders", [_order(rng, i, DAY1 - timedelta(days=i % 4)) for i in range(1, 301)])
    raw.load(
        "marketing.ad_spend",
        [_spend(DAY1 - timedelta(days=d), c, 20.0 + d) for d in range(4) for c in CAMPAIGNS[:3]],
    )
    _dbt(incremental, "build")

    # Day 2: new orders; 40 orders of the four days before change status and amount; a customer moved.
    raw.load("shop.orders", [_order(rng, i, day2) for i in range(301, 401)])
    old = raw.rows("shop.orders", "order_id between 1 and 40")
    raw.load(
        "shop.orders",
        [_changed(o, day2, status=STATUSES[o["order_id"] % 5], amount=o["amount"] + 1) for o in old],
    )
    raw.load("shop.customers", [_changed(raw.rows("shop.customers", "customer_id = 3")[0], day2, country="AT")])
    raw.load("marketing.ad_spend", [_spend(day2, c, 31.5) for c in CAMPAIGNS[:4]])
    _incremental_build(incremental)

    # Day 3: late changes. An order of day 1 changes amount and loses its campaign, another
    # without a campaign gains one; a product changes category; a late ad spend file for day 1
    # (a new campaign) and a corrected one for day 2.
    late = raw.rows("shop.orders", "order_id in (4, 8)")
    raw.load(
        "shop.orders",
        [
            _changed(late[0], day3, amount=999.99, campaign_key=None),
            _changed(late[1], day3, campaign_key="brand_search", status="returned"),
            *[_order(rng, i, day3) for i in range(401, 481)],
        ],
    )
    raw.load("shop.products", [_changed(raw.rows("shop.products", "product_id = 2")[0], day3, category="games")])
    # ... and, in the same build, the customer of an older order of that product moves: the order
    # is changed twice over and must be merged once.
    both = raw.rows("shop.orders", "product_id = 2 and order_id <= 300 order by order_id limit 1")[0]
    raw.load(
        "shop.customers",
        [_changed(raw.rows("shop.customers", f"customer_id = {both['customer_id']}")[0], day3, country="PL")],
    )
    raw.load("marketing.ad_spend", [_spend(DAY1, "brand_search", 12.25), _spend(day2, "spring_sale", 44.0)])
    _incremental_build(incremental)

    # Day 4: more orders and a day of spend; a day-2 order is returned.
    raw.load("shop.orders", [_order(rng, i, day4) for i in range(481, 561)])
    raw.load("shop.orders", [_changed(raw.rows("shop.orders", "order_id = 350")[0], day4, status="returned")])
    raw.load("marketing.ad_spend", [_spend(day4, c, 18.0) for c in CAMPAIGNS[:4]])
    _incremental_build(incremental)

    _assert_equal_to_a_full_refresh(incremental, full)


def test_full_refresh_rebuilds_what_an_incremental_build_would_not(warehouses: tuple[Path, Path]) -> None:
    """An incremental build only merges what the loader wrote since the last build: a change made
    behind the loader's back (a raw row edited without a new load time) shows only after
    --full-refresh, which is how `make dbt CMD='build --full-refresh'` repairs a mart."""
    incremental, _ = warehouses
    raw, rng = _day_one(incremental, seed=7, orders=50)
    raw.load("marketing.ad_spend", [_spend(DAY1, "newsletter", 10.0)])
    _dbt(incremental, "build", "--select", "+tag:finance")
    with duckdb.connect(str(incremental / "raw_shop.duckdb")) as conn:
        conn.execute("update shop.orders set amount = 1.00 where order_id = 1")  # same _sdc_batched_at

    def marts() -> tuple:
        with duckdb.connect(str(incremental / "analytics.duckdb"), read_only=True) as conn:
            (order_total,) = conn.execute("select order_total from main.orders where order_id = 1").fetchone()
            (revenue,) = conn.execute("select revenue + lost_revenue from main.revenue_daily").fetchone()
        return order_total, revenue

    before = marts()
    # A new order of the same day is loaded: that order is merged and its day recomputed; order 1,
    # which no load touched, is kept as it was built.
    raw.load("shop.orders", [{**_order(rng, 51, DAY1), "amount": 2.0}])
    _dbt(incremental, "build", "--select", "+tag:finance")
    assert before[0] != 1
    assert marts() == (before[0], before[1] + 2)
    _dbt(incremental, "build", "--select", "+tag:finance", "--full-refresh")
    assert marts() == (1, before[1] - before[0] + 1 + 2)


def test_a_source_loaded_again_from_nothing_rebuilds_its_marts_in_full(warehouses: tuple[Path, Path]) -> None:
    """A raw table made anew and loaded with other rows (`make seed`, a raw file deleted, a source
    removed and added back): the next build rebuilds every incremental mart that reads it, so no
    row of the old data stays behind, then goes on incrementally."""
    incremental, full = warehouses
    raw, rng = _day_one(incremental, seed=13, orders=200)
    raw.load("marketing.ad_spend", [_spend(DAY1 - timedelta(days=d), c, 15.0) for d in range(3) for c in CAMPAIGNS[:3]])
    _dbt(incremental, "build")

    # The shop loaded again from nothing: fewer orders, all of the next day.
    (incremental / "raw_shop.duckdb").unlink()
    raw = Raw(incremental)
    raw.load("shop.customers", _customers(rng))
    raw.load("shop.products", _products())
    raw.load("shop.orders", [_order(rng, i, DAY1 + timedelta(days=1)) for i in range(1, 51)])
    rebuilt = _dbt(incremental, "build").stdout
    for mart in ("orders", "revenue_daily", "campaign_daily"):
        assert f'rebuilding "analytics"."main"."{mart}" in full: every row of stg_' in rebuilt, rebuilt[-4000:]

    _assert_equal_to_a_full_refresh(incremental, full)

    raw.load("shop.orders", [_order(rng, 51, DAY1 + timedelta(days=1))])
    _incremental_build(incremental)


def test_the_dbt_job_fails_bad_data_at_once_naming_the_tests_and_rows(warehouses: tuple[Path, Path]) -> None:
    """Real dbt through the jobs image's dbt command (dbt/bin/dbt_job.py): two negative amounts
    break the in_range test on order_total; the job exits 3 (bad data: the runner does not retry)
    and its BATON_RESULT names the test, its model and column, and the 2 failing rows."""
    warehouse, _ = warehouses
    rng = random.Random(3)
    raw = Raw(warehouse)
    raw.load("shop.customers", _customers(rng))
    raw.load("shop.products", _products())
    orders = [_order(rng, i, DAY1) for i in range(1, 21)]
    orders[3]["amount"], orders[7]["amount"] = -5.0, -0.01
    raw.load("shop.orders", orders)
    env = {**_dbt_env(warehouse), "BATON_DBT_BIN": str(DBT)}
    job = [str(DBT.parent / "python"), str(REPO / "dbt" / "bin" / "dbt_job.py")]
    args = ["build", "--select", "+tag:finance", "--target-path", str(warehouse / "target")]
    done = subprocess.run([*job, *args], cwd=REPO / "dbt", env=env, capture_output=True, text=True)
    assert done.returncode == 3, done.stdout[-4000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("BATON_RESULT: "), done.stdout[-2000:]
    result = json.loads(last.removeprefix("BATON_RESULT: "))
    assert result["failure"] == "bad data" and result["errors"] == []
    assert result["failed_tests"] == [
        {"name": "in_range_stg_orders_order_total__1000000__0", "failures": 2, "model": "stg_orders",
         "column": "order_total"}
    ]  # fmt: skip
    assert "in_range_stg_orders_order_total__1000000__0 (2 rows)" in result["reason"]


def _recorded_tests(warehouse: Path) -> set[str]:
    """The data tests recorded as passed (dbt/macros/changed_rows.sql), by name."""
    with duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True) as conn:
        ids = conn.execute("select distinct test_id from _baton.tests_passed").fetchall()
    return {test_id.split(".")[2] for (test_id,) in ids}


def _break_behind_the_loader(warehouse: Path, order_id: int) -> None:
    """A negative amount on a row already tested, its load time kept (not a load: an edit by hand)."""
    with duckdb.connect(str(warehouse / "raw_shop.duckdb")) as conn:
        conn.execute(f"update shop.orders set amount = -1 where order_id = {order_id}")


IN_RANGE, UNIQUE = "in_range_stg_orders_order_total__1000000__0", "unique_stg_orders_order_id"
RELATIONSHIP = "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_"


def test_data_tests_read_the_rows_loaded_since_they_last_passed(warehouses: tuple[Path, Path]) -> None:
    """An incremental build's key and value tests read the rows loaded since they last passed: a
    row they passed on and nobody loaded again is not read, each new bad row is, a key repeated by
    a new row is found next to its old twin, and a failing test keeps failing; --full-refresh
    reads every row."""
    warehouse, _ = warehouses
    raw, rng = _day_one(warehouse, seed=11, orders=100)
    finance = ("--select", "+tag:finance")
    _dbt(warehouse, "build", *finance)
    recorded = _recorded_tests(warehouse)
    assert {IN_RANGE, UNIQUE, "unique_orders_order_id", "unique_revenue_daily_order_date"} <= recorded
    # Always the whole table: the newest load, and a relationship (its parent rows can go).
    assert not {"loaded_within_stg_orders_loaded_at__36", RELATIONSHIP} & recorded

    _break_behind_the_loader(warehouse, 1)
    raw.load("shop.orders", [_order(rng, 101, DAY1)])
    _dbt(warehouse, "build", *finance)

    # Two new loads: a negative amount, and order 50 written again next to its old row (a loader
    # that appended instead of replacing).
    raw.load("shop.orders", [{**_order(rng, 102, DAY1), "amount": -2.0}])
    with duckdb.connect(str(warehouse / "raw_shop.duckdb")) as conn:
        conn.execute("insert into shop.orders select * replace (now() as _sdc_batched_at) from shop.orders "
                     "where order_id = 50")  # fmt: skip
    _dbt(warehouse, "build", *finance, ok=False)
    assert _failed_tests(warehouse) == {IN_RANGE: 1, UNIQUE: 1}
    _dbt(warehouse, "build", *finance, ok=False)  # nothing recorded for a failing test: it fails again
    assert _failed_tests(warehouse) == {IN_RANGE: 1, UNIQUE: 1}

    _dbt(warehouse, "build", *finance, "--full-refresh", ok=False)
    assert _failed_tests(warehouse) == {IN_RANGE: 2, UNIQUE: 1}  # order 1 as well


def test_a_changed_model_or_test_is_tested_whole_once(warehouses: tuple[Path, Path], tmp_path: Path) -> None:
    """A test reads the whole table again when its model, a model upstream of it or the macro the
    test runs changed: the rows it passed on were built or judged by other code."""
    warehouse, _ = warehouses
    project = tmp_path / "dbt"
    shutil.copytree(REPO / "dbt", project, ignore=shutil.ignore_patterns("target", "logs"))
    _day_one(warehouse, seed=12, orders=50)
    finance = ("--select", "+tag:finance")
    _dbt(warehouse, "build", *finance, project=project)
    _break_behind_the_loader(warehouse, 7)
    _dbt(warehouse, "build", *finance, project=project)

    test = project / "tests" / "generic" / "in_range.sql"
    test.write_text(test.read_text().replace("as value_out_of_range", "as value_out_of_range -- changed"))
    _dbt(warehouse, "build", *finance, project=project, ok=False)
    assert _failed_tests(warehouse) == {IN_RANGE: 1}

    with duckdb.connect(str(warehouse / "raw_shop.duckdb")) as conn:
        conn.execute("update shop.orders set amount = 1 where order_id = 7")
    _dbt(warehouse, "build", *finance, project=project)
    _break_behind_the_loader(warehouse, 8)
    _dbt(warehouse, "build", *finance, project=project)

    model = project / "models" / "staging" / "shop" / "stg_orders.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    _dbt(warehouse, "build", *finance, project=project, ok=False)
    assert _failed_tests(warehouse) == {IN_RANGE: 1}


def test_two_domain_builds_started_together_write_one_after_the_other(warehouses: tuple[Path, Path]) -> None:
    """Files mode: the finance and marketing builds started together on one analytics.duckdb (what the
    dbt DAGs do when shop lands) both succeed. Each parses and compiles, then waits for the writer's
    turn of the file (dbt_warehouse.py, warehouse.take_writer_turn), saying whom it waits for, instead
    of failing on DuckDB's lock. Here the turn is held until both wait, so that they meet for sure."""
    incremental, _ = warehouses
    _day_one(incremental, 20261203, 200)
    Raw(incremental).load("marketing.ad_spend", [_spend(DAY1, c, 12.5) for c in CAMPAIGNS[:3]])
    env = _dbt_env(incremental)
    held = warehouse.take_writer_turn(incremental / "analytics.duckdb")
    assert held is not None
    logs = {domain: incremental / f"{domain}.log" for domain in ("finance", "marketing")}
    builds = {}
    for domain, log in logs.items():
        with log.open("w") as out:
            command = [str(DBT), "build", "--select", f"+tag:{domain}", "--target-path", str(incremental / domain)]
            builds[domain] = subprocess.Popen(command, cwd=REPO / "dbt", env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while not all("waiting for its turn" in log.read_text() for log in logs.values()):
        assert time.monotonic() < deadline and all(p.poll() is None for p in builds.values()), {
            d: log.read_text()[-3000:] for d, log in logs.items()
        }
        time.sleep(0.2)
    held.close()  # the builds take their turns, one after the other
    for domain, proc in builds.items():
        code = proc.wait(timeout=600)
        output = logs[domain].read_text()
        assert code == 0, f"{domain}: exit {code}\n{output[-6000:]}"
        assert "analytics.duckdb is being written by" in output and "this writer's turn, after" in output, output
        assert "Could not set lock" not in output
    with duckdb.connect(str(incremental / "analytics.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from orders").fetchone() == (200,)
        assert conn.execute("select count(*) from campaign_daily").fetchone()[0] > 0
