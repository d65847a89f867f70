"""Sample data for the kit's two sources, deterministic at any size.

    python -m samples.generate seed --orders 1000000   # shop rows + 30 days of marketing files
    python -m samples.generate next-day --new-pct 1     # one more day in both sources

The shop rows are generated inside Postgres by the `sample_gen` functions (samples/shop/initdb),
which is far faster than sending rows from here; the marketing files are written here, one CSV of
ad spend per day, with the same campaign keys as shop orders.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
from datetime import date, timedelta
from pathlib import Path

import psycopg

CAMPAIGNS = {  # campaign_key -> (channel, daily budget in EUR)
    "spring_sale": ("paid_social", 900.0),
    "newsletter": ("email", 120.0),
    "retargeting": ("display", 450.0),
    "brand_search": ("search", 600.0),
    "social_video": ("paid_social", 300.0),
}
COLUMNS = ["spend_date", "campaign_key", "channel", "impressions", "clicks", "spend_eur"]
DEFAULT_DSN = "postgresql://postgres:postgres@127.0.0.1:5433/shop"


def ad_spend_rows(day: date) -> list[dict[str, object]]:
    """One row per campaign for `day`; the same day always gives the same rows."""
    rng = random.Random(day.isoformat())
    rows = []
    for key, (channel, budget) in CAMPAIGNS.items():
        spend = round(budget * rng.uniform(0.6, 1.2), 2)
        impressions = int(spend * rng.uniform(80, 140))
        rows.append(
            {
                "spend_date": day.isoformat(),
                "campaign_key": key,
                "channel": channel,
                "impressions": impressions,
                "clicks": int(impressions * rng.uniform(0.005, 0.03)),
                "spend_eur": f"{spend:.2f}",
            }
        )
    return rows


def write_ad_spend(out_dir: Path, day: date) -> Path:
    """Write `ad_spend_<day>.csv` atomically (a reader never sees half a file)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"ad_spend_{day.isoformat()}.csv"
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(ad_spend_rows(day))
    tmp.replace(path)
    return path


def seed(dsn: str, marketing_dir: Path, orders: int, start: date, days: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("select sample_gen.seed(%s, %s, %s)", (orders, start, days))
    for old in marketing_dir.glob("ad_spend_*.csv"):
        old.unlink()
    for i in range(days):
        write_ad_spend(marketing_dir, start + timedelta(days=i))


def next_day(dsn: str, marketing_dir: Path, new_pct: float) -> date:
    with psycopg.connect(dsn, autocommit=True) as conn:
        (day,) = conn.execute("select sample_gen.next_day(%s::numeric)", (new_pct,)).fetchone()
    write_ad_spend(marketing_dir, day)
    return day


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.generate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn", default=os.environ.get("BATON_SHOP_DB_URL", DEFAULT_DSN), help="shop database URL (BATON_SHOP_DB_URL)"
    )
    parser.add_argument(
        "--marketing-dir",
        type=Path,
        default=Path(
            os.environ.get("BATON_MARKETING_DIR") or Path(os.environ.get("BATON_JOB_DATA_DIR", "/data")) / "marketing"
        ),
        help="where the ad spend CSV files land",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_seed = sub.add_parser("seed", help="replace all sample data")
    p_seed.add_argument("--orders", type=int, default=1000)
    p_seed.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 1))
    p_seed.add_argument("--days", type=int, default=30)
    p_mkt = sub.add_parser("marketing", help="write the marketing files only (what the shop's init seed covers)")
    p_mkt.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 1))
    p_mkt.add_argument("--days", type=int, default=30)
    p_next = sub.add_parser("next-day", help="append the next day to both sources")
    p_next.add_argument("--new-pct", type=float, default=1.0, help="new orders, in %% of the existing ones")
    args = parser.parse_args(argv)

    try:
        if args.command == "marketing":
            for i in range(args.days):
                write_ad_spend(args.marketing_dir, args.start + timedelta(days=i))
            print(f"wrote {args.days} days of ad spend in {args.marketing_dir}")
        elif args.command == "seed":
            seed(args.dsn, args.marketing_dir, args.orders, args.start, args.days)
            print(f"seeded {args.orders} orders and {args.days} days of ad spend in {args.marketing_dir}")
        else:
            day = next_day(args.dsn, args.marketing_dir, args.new_pct)
            print(f"appended {day}: new and updated orders, {args.marketing_dir}/ad_spend_{day}.csv")
    except psycopg.OperationalError as exc:
        print(f"error: cannot reach the shop database at {args.dsn}: {exc}".strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
