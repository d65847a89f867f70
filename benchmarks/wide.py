"""The wide table of the extract-load benchmark: 59 columns of every type the extractor meets, with
nulls, empty strings and quoting-hostile text, created in a database of its own, loaded by the job on
the copy path and checked value for value against the source."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from decimal import Decimal

from benchmarks.harness import Bench, bridge_url, create_database, failure, pg_url

GOAL_WIDE_ROWS_S = 60_000

WIDE_TABLE = "wide"
# column prefix -> (Postgres type, how many, value from {r} (a random 0..1 of its own), {g} (the row), {i} (the column))
WIDE_COLUMNS = {
    "num": ("numeric(12,2)", 10, "round(({r} * 2e7 - 1e7)::numeric, 2)"),
    "txt": ("text", 10, None),
    "ts": ("timestamptz", 9, "timestamptz '2020-01-01 00:00:00+00' + {r} * interval '2000 days'"),
    "int": ("integer", 10, "({r} * 2e9 - 1e9)::integer"),
    "flag": ("boolean", 5, "{r} < 0.5"),
    "day": ("date", 5, "date '2000-01-01' + ({r} * 10000)::integer"),
    "doc": (
        "jsonb",
        3,
        "jsonb_build_object('n', {g} * 10 + {i}, 'tag', md5({r}::text), 'nested', jsonb_build_object('x', {r}))",
    ),
    "uid": ("uuid", 3, "md5({r}::text)::uuid"),
    "dbl": ("double precision", 2, "{r} * 1e6 - 5e5"),
}
# Text as applications write it: empty, quoted, multi-line, separators, backslashes, the words that
# mean null to some CSV readers, non-ASCII, spaces at the ends; each value picks one by its {r}.
WIDE_TEXTS = [
    "''",
    "'plain ' || {g}",
    "'with, comma and \"quotes\" ' || {g}",
    "E'two\\nlines ' || {g}",
    "E'back\\\\slash \\\\N ' || {g}",
    "'NULL'",
    "'\\N'",
    "'grüße, ünïcödé ✓ ' || {g}",
    "repeat(md5({g}::text), 3)",
    "' leading and trailing spaces '",
]
# per type: (what is compared, its SQL in Postgres, in DuckDB); {c} is the column
WIDE_METRICS = {
    "numeric(12,2)": [("sum", "sum({c})", "sum({c})")],
    "text": [
        ("empty strings", "count(*) filter (where {c} = '')", "count(*) filter (where {c} = '')"),
        ("md5 of all", "md5(string_agg({c}, '|' order by key))", "md5(string_agg({c}, '|' order by key))"),
    ],
    "timestamptz": [("sum of µs", "sum((extract(epoch from {c}) * 1000000)::bigint)", "sum(epoch_us({c}))")],
    "integer": [("sum", "sum({c})", "sum({c})")],
    "boolean": [("trues", "count(*) filter (where {c})", "count(*) filter (where {c})")],
    "date": [("sum of days", "sum({c} - date '2000-01-01')", "sum(date_diff('day', date '2000-01-01', {c}))")],
    "jsonb": [
        ("sum of n", "sum(({c}->>'n')::bigint)", "sum(json_extract_string({c}, '$.n')::bigint)"),
        (
            "md5 of tags",
            "md5(string_agg({c}->>'tag', '|' order by key))",
            "md5(string_agg(json_extract_string({c}, '$.tag'), '|' order by key))",
        ),
    ],
    "uuid": [
        (
            "md5 of all",
            "md5(string_agg({c}::text, '|' order by key))",
            "md5(string_agg({c}::varchar, '|' order by key))",
        )
    ],
    "double precision": [("sum", "sum({c})", "sum({c})")],
}


def wide_columns() -> list[tuple[str, str]]:
    """(name, Postgres type) of the wide table, key and updated_at included."""
    middle = [(f"{p}{i:02d}", t) for p, (t, count, _) in WIDE_COLUMNS.items() for i in range(1, count + 1)]
    return [("key", "bigint"), *middle, ("updated_at", "timestamptz")]


def wide_create_sql(rows: int) -> str:
    """The wide table and its rows; every column but the key and updated_at is null in about 4% of
    rows. Each value draws its own random() in an inner select, evaluated once per row."""
    draws, values = [], []
    for name, _ in wide_columns()[1:-1]:
        prefix, i = name[:-2], int(name[-2:])
        expr = WIDE_COLUMNS[prefix][2]
        if expr is None:
            expr = f"(array[{', '.join(WIDE_TEXTS)}])[1 + floor({{r}} * {len(WIDE_TEXTS)})::int]"
        draws += [f"random() as r_{name}", f"random() as z_{name}"]
        value = expr.format(r=f"r_{name}", g="g", i=i)
        values.append(f"case when z_{name} < 0.04 then null else {value} end")
    defs = ",\n    ".join(f"{name} {pg_type}" for name, pg_type in wide_columns())
    return f"""
create schema if not exists shop;
create table shop.{WIDE_TABLE} (
    {defs}
);
select setseed(0.2);
insert into shop.{WIDE_TABLE}
select g, {", ".join(values)}, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 millisecond'
from (select g, {", ".join(draws)} from generate_series(1, {rows}) as g) as d;
alter table shop.{WIDE_TABLE} add primary key (key);
analyze shop.{WIDE_TABLE};
"""


def wide_metrics_sql(engine: int, table: str) -> tuple[list[str], str]:
    """Labels and one select of every compared figure; engine 1 = Postgres, 2 = DuckDB."""
    labels, exprs = ["rows", "distinct keys"], ["count(*)", "count(distinct key)"]
    for name, pg_type in wide_columns()[1:]:
        metrics = [("non-null", "count({c})", "count({c})"), *WIDE_METRICS.get(pg_type, [])]
        if name == "updated_at":
            metrics = WIDE_METRICS["timestamptz"]
        for what, *sql in metrics:
            labels.append(f"{name} {what}")
            exprs.append(sql[engine - 1].format(c=name))
    return labels, f"select {', '.join(exprs)} from {table}"


def same(label: str, source, warehouse) -> bool:
    if source is None or warehouse is None:
        return source is None and warehouse is None
    if label.startswith("dbl"):  # a float sum depends on the order of addition
        return abs(float(source) - float(warehouse)) <= 1e-9 * max(1.0, abs(float(source)))
    if isinstance(source, str):
        return source == warehouse
    return Decimal(str(source)) == Decimal(str(warehouse))


@dataclass
class WideResult:
    label: str
    rows: int
    columns: int
    seconds: float
    peak_memory: int
    check: str
    types: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def run_wide(bench: Bench, rows: int) -> list[WideResult]:
    """The wide table created in a database of its own, loaded by the job on the copy path in each
    warehouse mode, and checked value for value."""
    import psycopg

    db = create_database(bench.shop, "wide")
    print(f"wide: creating {rows:,} rows of {len(wide_columns())} columns ...", file=sys.stderr)
    started = time.perf_counter()
    with psycopg.connect(pg_url(bench.shop, db), autocommit=True) as conn:
        conn.execute(wide_create_sql(rows))
        labels, sql = wide_metrics_sql(1, f"shop.{WIDE_TABLE}")
        source = conn.execute(sql).fetchone()
    print(f"      created in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    results = []
    for mode in bench.modes:
        label = "copy" if mode == "files" else f"copy, {mode}"
        print(f"  wide, full: {label} ...", file=sys.stderr)
        env = {
            "MELTANO_DATABASE_URI": bench.system_url(),
            "BATON_SHOP_DB_URL": bridge_url(bench.shop, db),
            "TAP_SHOP_EXPORT_MODE": "copy",
            # the source's selection, for this run only: the wide table
            "TAP_SHOP__SELECT": json.dumps([f"shop-{WIDE_TABLE}.*"]),
        }
        warehouse = bench.warehouse(mode, f"wide-{mode}")
        run = bench.jobs.run(["el", "shop"], warehouse, env)
        result = WideResult(label, rows, len(wide_columns()), run.seconds, run.peak_memory, "ok")
        if not run.ok:
            result.check = failure(run.out, run.oom_killed, bench.jobs.mem_limit)
        else:
            _, sql = wide_metrics_sql(2, f"raw_shop.shop.{WIDE_TABLE}")
            landed = bench.jobs.query(warehouse, sql)[0]
            wrong = [
                f"{lbl}: source {s} != raw {w}"
                for lbl, s, w in zip(labels, source, landed, strict=True)
                if not same(lbl, s, w)
            ]
            result.check = "exact" if not wrong else f"{len(wrong)} differ: " + "; ".join(wrong[:4])
            types = bench.jobs.query(
                warehouse,
                "select column_name, data_type from information_schema.columns where table_catalog = 'raw_shop' "
                f"and table_name = '{WIDE_TABLE}' and column_name in ('uid01', 'doc01', 'num01', 'ts01') order by 1",
            )
            result.types = ", ".join(f"{name} {kind}" for name, kind in types)
        print(f"      {result.seconds:6.1f} s, {result.rate:,.0f} rows/s, {result.check}", file=sys.stderr)
        results.append(result)
    return results


def report_wide(results: list[WideResult]) -> None:
    cols = results[0].columns
    print(f"\nwide table ({cols} columns), through the ingestion job:\n")
    print("| path | rows | s | rows/s | values/s | peak memory MiB | values | landed as |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for r in results:
        check = "failed, see below" if r.check.startswith("failed") else r.check
        print(
            f"| {r.label} | {r.rows:,} | {r.seconds:.1f} | {r.rate:,.0f} | {r.rate * r.columns / 1e6:.2f}M | "
            f"{r.peak_memory / 2**20:,.0f} | {check} | {r.types} |"
        )
    print("\nGoals:")
    for r in results:
        if r.check.startswith("failed"):
            print(f"  wide {r.label}: {r.check}")
            continue
        verdict = "met" if r.rate >= GOAL_WIDE_ROWS_S and r.check == "exact" else "NOT met"
        note = "" if r.rows >= 1_000_000 else f" (at {r.rows:,} rows; the goal is stated at 1,000,000)"
        goal = f">= {GOAL_WIDE_ROWS_S:,} rows/s, values exact"
        print(f"  wide {r.label} {goal}: {r.rate:,.0f} rows/s, {r.check}, {verdict}{note}")
