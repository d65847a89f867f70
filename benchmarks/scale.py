"""The scale curve: what a full load, a 1% incremental load, a run with nothing to move and the dbt
builds cost at growing sizes, each as the kit's job in a container of the jobs image.

    python -m benchmarks.scale [--sizes 100000,1000000,10000000] [--warehouse files,lake] [--memory 2g]
    (make bench-scale SIZES=100000,1000000)

For each size, against throwaway Postgres databases (testcontainers): seed N orders (plus N/10
customers, 200 products, 30 days of ad spend files) with the sample generator; then, in each
warehouse mode, each with its own warehouse and Meltano system database:

  full      `baton-job el shop`, `baton-job el marketing`, `baton-job dbt build` (as a cycle runs it)
  1% change `samples next-day` (1% new orders, status changes, one more ad spend file), then the same
            three jobs: the incremental load and the build after it
  no-op     `baton-job el shop` once more, with nothing new to move: the fixed cost of a run

Seconds are wall time from `docker run` to the container's exit. Peak memory is the job
container's (usage less inactive file cache, as `docker stats` counts it), sampled every 50 ms;
CPU seconds are the container's, from its cgroup (on a busy machine they say more than wall time).
Every load is checked: the warehouse's rows equal the source's, no key twice; every build passes its
dbt tests. Goals, checked at the largest size: the 1% incremental load takes at most the no-op run
plus 10% of the full load; the dbt incremental build at most 3x the one at the smallest size
(100,000 orders). The whole 1% cycle against the full cycle (goal: at most 25%) is printed from the
same jobs run one after another, without Airflow.

--memory limits each job container (default: BATON_JOB_MEMORY where settings.env has it, else no
limit). --warehouse files,lake runs each size in both modes where the jobs image has the lake.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from datetime import date

from baton_contract.job import cycle_build

from benchmarks.harness import TABLES, Bench, Seeder, count_check, counts_sql, failure, machine, started
from benchmarks.sampling import Run

GOAL_INCR_SHARE = 0.10  # of the full load, beyond the no-op run
GOAL_DBT_GROWTH = 3.0  # dbt incremental at the largest size / at the smallest
GOAL_CYCLE_SHARE = 0.25  # 1% cycle / full cycle
STEPS = ("load full", "load incr", "load no-op", "dbt full", "dbt incr")
KINDS = ("full", "incr")  # a cycle on all of the data, and one after the 1% change


@dataclass
class Row:
    """One size in one warehouse mode: a Run per step, and what went wrong."""

    size: int
    mode: str
    seed_seconds: float
    rows_full: int = 0
    rows_incr: int = 0
    runs: dict[str, Run] = field(default_factory=dict)
    marketing: dict[str, Run] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def seconds(self, step: str) -> float | None:
        run = self.runs.get(step)
        return run.seconds if run and run.ok else None


class Scale:
    def __init__(self, bench: Bench, seeder: Seeder):
        self.bench, self.seeder = bench, seeder

    def source_counts(self) -> dict[str, int]:
        import psycopg

        with psycopg.connect(self.seeder.shop_url) as conn:
            return {t: conn.execute(f"select count(*) from shop.{t}").fetchone()[0] for t in TABLES}

    def step(self, row: Row, step: str, command: list[str], warehouse, env: dict[str, str]) -> Run:
        print(f"  {row.size:>10,} orders, {row.mode}: {step} ({' '.join(command)}) ...", file=sys.stderr)
        run = self.bench.jobs.run(command, warehouse, env)
        note = "ok" if run.ok else failure(run.out, run.oom_killed, self.bench.jobs.mem_limit)
        print(f"      {run.seconds:6.1f} s, {run.peak_memory / 2**20:,.0f} MiB, {note}", file=sys.stderr)
        if not run.ok:
            row.problems.append(f"{step}: {note}")
        return run

    def load(self, row: Row, step: str, warehouse, env: dict[str, str]) -> None:
        row.runs[step] = self.step(row, step, ["el", "shop"], warehouse, env)
        if row.runs[step].ok:
            check, _ = count_check(self.bench.jobs.query(warehouse, counts_sql(TABLES)), self.source_counts())
            if check != "ok":
                row.problems.append(f"{step}: {check}")

    def cycle(self, row: Row, kind: str, warehouse, env: dict[str, str]) -> None:
        """A load of both sources, then the dbt build: what a cycle runs."""
        self.load(row, f"load {kind}", warehouse, env)
        row.marketing[kind] = self.step(row, f"marketing {kind}", ["el", "marketing"], warehouse, env)
        if row.runs[f"load {kind}"].ok and row.marketing[kind].ok:
            row.runs[f"dbt {kind}"] = self.step(row, f"dbt {kind}", cycle_build(), warehouse, env)

    def size(self, n: int) -> list[Row]:
        print(f"seeding {n:,} orders ...", file=sys.stderr)
        seed_seconds = self.seeder.seed(n)
        print(f"      {seed_seconds:6.1f} s", file=sys.stderr)
        rows, places = [], []
        for mode in self.bench.modes:
            row = Row(n, mode, seed_seconds, rows_full=sum(self.source_counts().values()))
            places.append(
                (self.bench.warehouse(mode, f"n{n}-{mode}"), {"MELTANO_DATABASE_URI": self.bench.system_url()})
            )
            self.cycle(row, "full", *places[-1])
            rows.append(row)
        before = self.source_counts()
        self.seeder.next_day()
        for row, place in zip(rows, places, strict=True):
            row.rows_incr = sum(self.source_counts().values()) - sum(before.values())
            self.cycle(row, "incr", *place)
            self.load(row, "load no-op", *place)
        return rows


def mib(run: Run | None) -> str:
    return f"{run.peak_memory / 2**20:,.0f}" if run and run.ok else "-"


def secs(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "failed"


def report(rows: list[Row], limit: int | None, started_on: str) -> None:
    limit_text = f"{limit / 2**20:,.0f} MiB" if limit else "none"
    print(f"\nscale curve, {date.today()}, {started_on}, job memory limit: {limit_text}\n")
    print(
        "| orders | warehouse | seed s | full load s | rows/s | 1% incr load s | no-op s | dbt full s | dbt incr s "
        "| peak MiB: full / incr / no-op / dbt full / dbt incr | checks |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        full = r.seconds("load full")
        rate = f"{r.rows_full / full:,.0f}" if full else "-"
        peaks = " / ".join(mib(r.runs.get(step)) for step in STEPS)
        print(
            f"| {r.size:,} | {r.mode} | {r.seed_seconds:.1f} | {secs(full)} | {rate} | {secs(r.seconds('load incr'))} "
            f"| {secs(r.seconds('load no-op'))} | {secs(r.seconds('dbt full'))} | {secs(r.seconds('dbt incr'))} "
            f"| {peaks} | {'ok' if not r.problems else 'see below'} |"
        )
    if any(run.cpu_seconds is not None for r in rows for run in r.runs.values()):
        print("\nCPU seconds of each job container (the machine's other load left out):\n")
        print("| orders | warehouse | " + " | ".join(STEPS) + " |")
        print("|---:|---|" + "---:|" * len(STEPS))
        for r in rows:
            cpu = [r.runs.get(s).cpu_seconds if r.runs.get(s) else None for s in STEPS]
            print(f"| {r.size:,} | {r.mode} | " + " | ".join(f"{c:.1f}" if c is not None else "-" for c in cpu) + " |")
    goals(rows)


def goals(rows: list[Row]) -> None:
    print("\nGoals, at the largest size:")
    for mode in dict.fromkeys(r.mode for r in rows):
        mine = sorted((r for r in rows if r.mode == mode), key=lambda r: r.size)
        big, small = mine[-1], mine[0]
        full, incr, idle = big.seconds("load full"), big.seconds("load incr"), big.seconds("load no-op")
        if None in (full, incr, idle):
            print(f"  {mode}: the loads at {big.size:,} orders did not all succeed; see below")
        else:
            bound = idle + GOAL_INCR_SHARE * full
            verdict = "met" if incr <= bound else "not met"
            print(
                f"  {mode}, {big.size:,} orders: 1% incremental load {incr:.1f} s <= no-op {idle:.1f} s + 10% of the "
                f"full load {full:.1f} s = {bound:.1f} s: {verdict}"
            )
        dbt_big, dbt_small = big.seconds("dbt incr"), small.seconds("dbt incr")
        if big is small:
            print(f"  {mode}: dbt incremental growth needs two sizes (add 100000 to --sizes)")
        elif None in (dbt_big, dbt_small):
            print(f"  {mode}: a dbt incremental build did not succeed; see below")
        else:
            verdict = "met" if dbt_big <= GOAL_DBT_GROWTH * dbt_small else "not met"
            print(
                f"  {mode}, dbt incremental build at {big.size:,} orders {dbt_big:.1f} s <= 3 x the one at "
                f"{small.size:,} ({dbt_small:.1f} s) = {GOAL_DBT_GROWTH * dbt_small:.1f} s: {verdict}"
            )
        parts = {
            k: [big.runs.get(f"load {k}"), big.marketing.get(k), big.runs.get(f"dbt {k}")] for k in ("full", "incr")
        }
        if all(run and run.ok for runs in parts.values() for run in runs):
            full_cycle, incr_cycle = (sum(run.seconds for run in parts[k]) for k in KINDS)
            share = incr_cycle / full_cycle
            verdict = "met" if share <= GOAL_CYCLE_SHARE else "not met"
            print(
                f"  {mode}, {big.size:,} orders: the 1% cycle's jobs {incr_cycle:.1f} s = {share:.0%} of the full "
                f"cycle's {full_cycle:.1f} s (goal <= 25% for `make run`; here without Airflow): {verdict}"
            )
    for r in rows:
        for problem in r.problems:
            print(f"  {r.size:,} {r.mode}: {problem}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=os.environ.get("SIZES") or "100000,1000000,10000000", help="orders")
    parser.add_argument("--warehouse", default="files,lake", help="warehouse modes for the jobs: files, lake or both")
    parser.add_argument("--memory", help="each job container's memory limit, e.g. 2g or none (BATON_JOB_MEMORY)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.replace(" ", "").split(",") if s)

    started_on = machine()
    rows: list[Row] = []
    with started(args) as bench:
        scale = Scale(bench, bench.seeder())
        for n in sizes:
            rows += scale.size(n)
        report(rows, bench.jobs.mem_limit, started_on)
        for note in bench.notes:
            print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
