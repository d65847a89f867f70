"""Extract-load throughput of the `shop` source: real Meltano (tap-shop -> target-raw-shop) into
DuckDB, against a throwaway Postgres (testcontainers), with Meltano's state in Postgres.

    python benchmarks/el_throughput.py [--sizes 10000,100000,1000000] [--batch-size 100000]

For each size: seed N orders (plus N/10 customers, 200 products), a full load, then a next day
with 1% new orders (and some status changes) and an incremental load. Prints a table; rows/s
counts every row written (orders, customers, products). Wall time includes Meltano's start-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import docker
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testcontainers.community.postgres import PostgresContainer  # noqa: E402

from tests.conftest import image_setting  # noqa: E402
from tests.containers import configure_ryuk  # noqa: E402
from tests.integration.conftest import pg_url  # noqa: E402
from tests.integration.datapath import DataPath, check_environments  # noqa: E402

TABLES = ("orders", "customers", "products")


def raw_rows(dp: DataPath) -> int:
    return sum(dp.warehouse_query("raw_shop", f"select count(*) from shop.{t}")[0][0] for t in TABLES)


def moved_since(dp: DataPath, mark) -> int:
    return sum(
        dp.warehouse_query("raw_shop", f"select count(*) from shop.{t} where _sdc_batched_at > '{mark}'")[0][0]
        for t in TABLES
    )


def newest_batch(dp: DataPath):
    return max(dp.warehouse_query("raw_shop", f"select max(_sdc_batched_at) from shop.{t}")[0][0] for t in TABLES)


def timed_el(dp: DataPath) -> float:
    t0 = time.perf_counter()
    dp.el("shop")
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="orders per run, comma-separated")
    parser.add_argument("--batch-size", type=int, default=None, help="target batch_size_rows (default: project's)")
    args = parser.parse_args()
    check_environments()
    configure_ryuk(docker.from_env())
    sizes = [int(s) for s in args.sizes.split(",")]
    image = image_setting("BATON_POSTGRES_IMAGE")
    extra = {"TARGET_RAW_SHOP_BATCH_SIZE_ROWS": str(args.batch_size)} if args.batch_size else {}

    shop = PostgresContainer(image, username="shop", password="shop", dbname="shop")
    shop.with_volume_mapping(str(REPO / "samples/shop/initdb"), "/docker-entrypoint-initdb.d", "ro")
    system = PostgresContainer(image, username="meltano", password="meltano", dbname="meltano")
    results = []
    with shop, system, tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            db = f"meltano_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(pg_url(system, "meltano"), autocommit=True) as conn:
                conn.execute(f'create database "{db}"')
            dp = DataPath(
                shop_url=pg_url(shop, "shop"),
                meltano_url=pg_url(system, db, driver="psycopg"),
                warehouse=Path(tmp) / f"wh-{n}",
                marketing=Path(tmp) / f"mkt-{n}",
                environment="dev",
                extra_env=extra,
            )
            dp.warehouse.mkdir()
            dp.seed(n)
            dp.run("meltano", "upgrade", "database")
            full_s = timed_el(dp)
            full_rows = raw_rows(dp)
            mark = newest_batch(dp)
            dp.next_day(new_pct=1)
            incr_s = timed_el(dp)
            incr_rows = moved_since(dp, mark)
            results.append((n, full_rows, full_s, incr_rows, incr_s))
            print(f"  {n:>9,} orders: full {full_s:6.1f}s, incremental {incr_s:6.1f}s", file=sys.stderr)

    print(
        f"\nshop extract-load (tap-shop -> target-raw-shop), {date.today()}, {platform.node()}, "
        f"{os.cpu_count()} CPUs, batch_size_rows={args.batch_size or 'project default'}\n"
    )
    header = ("orders", "rows (full)", "full s", "full rows/s", "rows (incr)", "incr s", "incr rows/s", "incr/full")
    print("| " + " | ".join(header) + " |")
    print("|" + "---:|" * len(header))
    for n, fr, fs, ir, is_ in results:
        print(f"| {n:,} | {fr:,} | {fs:.1f} | {fr / fs:,.0f} | {ir:,} | {is_:.1f} | {ir / is_:,.0f} | {is_ / fs:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
