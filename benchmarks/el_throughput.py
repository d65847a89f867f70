"""Extract-load throughput: the `shop` source by each path, and a 59-column wide table, through the
ingestion job, against throwaway Postgres databases (testcontainers), with Meltano's state in Postgres.

    python -m benchmarks.el_throughput [--sizes 100000,1000000] [--cases shop,wide] [--warehouse files,lake]
    (make bench-el SIZES=100000 CASES=wide)

shop, for each size: seed N orders (plus N/10 customers, 200 products); a full load by each path; a
next day (1% new orders plus status changes); an incremental load by each path from its own state;
then one more run of each with nothing new to move, which measures what a run costs before it moves
a row (start-up, discovery, connections). That fixed cost is printed next to the incremental goal.

- records:   the ingestion job in a container of the jobs image (`baton-job el shop`: Meltano runs
             tap-shop with `export_mode: records`, RECORD messages, into target-raw-shop, then the
             job reconciles raw with the source)
- copy:      the same job with `export_mode: copy` (COPY -> Parquet or CSV files -> BATCH messages)
- copy, tap: the extractor alone on this machine (`export_mode: copy`), its files written, no loader
- raw limit: on this machine, psycopg `COPY (...) TO STDOUT` into CSV files + DuckDB `read_csv`

wide: a table the benchmark creates in a database of its own (not part of the samples): a bigint
key, 10 numeric(12,2), 10 text, 9 timestamptz, 10 integer, 5 boolean, 5 date, 3 jsonb, 3 uuid,
2 double precision and updated_at, with nulls in every column but the key, empty strings and
quoting-hostile text; --wide-rows rows (1M). It is loaded by the job on the copy path (tap-shop with
its selection set to this table) and checked value for value: per column the nulls, the sums
(numeric, integer, dates and timestamps as exact integers, doubles to 1e-9), the empty strings and
an md5 over every text, uuid and json value in key order. Prints rows/s, values/s and the types the
uuid and jsonb columns land as.

Each row: rows moved, wall seconds (for the jobs: from `docker run` to the container's exit, so
container, Meltano and plugin start-up included; Meltano's system database is migrated before the
first job, once, as a deployment's is, and that one-time migration is printed apart), rows/s, peak
memory and the check: for a load, the warehouse's rows equal the source's (and no key twice), read
in a container of the jobs image as the kit's query tool opens the warehouse; for the extractor
alone, rows exported equal rows to move. Peak memory: of the job container (usage less inactive file
cache, as `docker stats` counts it), else of the process tree (RSS); sampled every 50 ms.

--warehouse (default files,lake) runs the jobs once per warehouse mode (BATON_WAREHOUSE; lake: a DuckLake
whose catalog is a database of the benchmark's Postgres). A jobs image without the lake mode is
named in the output and measured in files mode only. --memory 2g limits each job container
(default: BATON_JOB_MEMORY where settings.env has it, else no limit).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from benchmarks.harness import REPO, TABLES, Jobs, Warehouse, count_check, counts_sql, failure, machine, started
from benchmarks.sampling import run_sampled
from benchmarks.wide import WideResult, report_wide, run_wide

TAP = REPO / "meltano" / ".meltano" / "extractors" / "tap-baton-postgres" / "venv" / "bin" / "tap-baton-postgres"
GOAL_ROWS_S = 150_000  # orders, full load through the job on the copy path
GOAL_LAKE_RATIO = 1.3  # a full load in lake mode / the same load in files mode
GOAL_INCR_SHARE = 0.10  # of the full load, beyond the run with nothing to move
JOB_PATHS = ("records", "copy")


# --- the benchmark --------------------------------------------------------------------------------
@dataclass
class Result:
    size: int
    path: str
    kind: str  # full | incr | idle (a run with nothing new to move)
    rows: int
    seconds: float
    peak_memory: int
    check: str  # "ok" or what failed
    lost: int = 0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def local_counts(db: Path) -> list[list]:
    """COUNTS_SQL's rows from a DuckDB file on this machine (the raw limit's)."""
    import duckdb

    if not db.exists():
        return []
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(counts_sql(TABLES, database=db.stem)).fetchall()


@dataclass
class JobPath:
    """A path the ingestion job takes: its export mode and warehouse, its own Meltano system database."""

    export_mode: str
    warehouse: Warehouse
    system_url: str

    @property
    def label(self) -> str:
        return self.export_mode if self.warehouse.mode == "files" else f"{self.export_mode}, {self.warehouse.mode}"


class SizeRun:
    """One size: the source seeded, one Meltano system database and warehouse per job path."""

    def __init__(self, n: int, paths: list[str], base: Path, shop_url: str, jobs: Jobs, job_paths: list[JobPath]):
        self.n, self.paths, self.base, self.shop_url, self.jobs = n, paths, base, shop_url, jobs
        self.job_paths = job_paths
        self.results: list[Result] = []
        self.tap_state: dict = {}
        self.tap_dir = base / "batches-tap"
        self.raw_db = base / "raw_shop.duckdb"

    # source facts
    def _query(self, sql: str, params: tuple = ()):
        import psycopg

        with psycopg.connect(self.shop_url) as conn:
            return conn.execute(sql, params).fetchone()[0]

    def source_counts(self) -> dict[str, int]:
        return {t: self._query(f"select count(*) from shop.{t}") for t in TABLES}

    def maxima(self) -> dict[str, str]:
        return {t: self._query(f"select max(updated_at) from shop.{t}").isoformat() for t in TABLES}

    def to_move(self, since: dict[str, str]) -> int:
        return sum(self._query(f"select count(*) from shop.{t} where updated_at >= %s", (since[t],)) for t in TABLES)

    # the paths
    def job(self, jp: JobPath, kind: str, rows: int, counts: dict[str, int]) -> Result:
        """The ingestion job as the DAGs run it, in a container of the jobs image: load, reconcile."""
        env = {"MELTANO_DATABASE_URI": jp.system_url, "TAP_SHOP_EXPORT_MODE": jp.export_mode}
        run = self.jobs.run(["el", "shop"], jp.warehouse, env)
        if not run.ok:
            check = failure(run.out, run.oom_killed, self.jobs.mem_limit)
            return Result(self.n, jp.label, kind, rows, run.seconds, run.peak_memory, check)
        check, lost = count_check(self.jobs.query(jp.warehouse, counts_sql(TABLES)), counts)
        return Result(self.n, jp.label, kind, rows, run.seconds, run.peak_memory, check, lost)

    def tap(self, kind: str, expected: int) -> Result:
        config = self.base / "tap-config.json"
        settings = {"sqlalchemy_url": self.shop_url, "filter_schemas": ["shop"], "export_mode": "copy"}
        config.write_text(json.dumps({**settings, "batch_dir": str(self.tap_dir)}))
        catalog = self.base / "tap-catalog.json"
        if not catalog.exists():
            found = subprocess.run([str(TAP), "--config", str(config), "--discover"], capture_output=True, text=True)
            discovered = json.loads(found.stdout)
            for entry in discovered["streams"]:
                entry["replication_method"], entry["replication_key"] = "INCREMENTAL", "updated_at"
                for md in entry["metadata"]:
                    md["metadata"]["selected"] = True
                    if md["breadcrumb"] == []:
                        md["metadata"].update({"replication-method": "INCREMENTAL", "replication-key": "updated_at"})
            catalog.write_text(json.dumps(discovered))
        cmd = [str(TAP), "--config", str(config), "--catalog", str(catalog)]
        if self.tap_state:
            state = self.base / "tap-state.json"
            state.write_text(json.dumps(self.tap_state))
            cmd += ["--state", str(state)]
        seconds, peak, out = run_sampled(cmd, dict(os.environ), self.base)
        for f in self.tap_dir.glob("*.csv"):
            f.unlink()
        if out.returncode != 0:
            return Result(self.n, "copy, tap", kind, 0, seconds, peak, failure(out))
        states = [json.loads(line) for line in out.stdout.splitlines() if '"STATE"' in line]
        self.tap_state = states[-1]["value"] if states else self.tap_state
        exported = sum(int(m) for m in re.findall(r"Exported (\d+) rows of", out.stderr))
        check = "ok" if exported == expected else f"exported {exported:,} != {expected:,} to move"
        return Result(self.n, "copy, tap", kind, exported, seconds, peak, check, max(0, expected - exported))

    def raw(self, kind: str, since: dict | None, rows: int, counts: dict[str, int]) -> Result:
        spec = {"shop_url": self.shop_url, "duckdb": str(self.raw_db), "folder": str(self.base), "since": since}
        cmd = [sys.executable, "-m", "benchmarks.raw_limit", json.dumps(spec)]
        seconds, peak, out = run_sampled(cmd, dict(os.environ), REPO)
        if out.returncode != 0:
            return Result(self.n, "raw limit", kind, rows, seconds, peak, failure(out))
        check, lost = count_check(local_counts(self.raw_db), counts)
        return Result(self.n, "raw limit", kind, rows, seconds, peak, check, lost)

    def load(self, kind: str, since: dict | None) -> None:
        counts = self.source_counts()
        rows = self.to_move(since) if since else sum(counts.values())
        for path in self.paths:
            if path in JOB_PATHS:
                runs = [
                    lambda jp=jp: self.job(jp, kind, rows, counts) for jp in self.job_paths if jp.export_mode == path
                ]
            elif path == "copy-tap":
                runs = [lambda: self.tap(kind, rows)]
            elif path == "raw":
                runs = [lambda: self.raw(kind, since, rows, counts)]
            else:
                raise SystemExit(f"unknown path {path!r}: records, copy, copy-tap or raw")
            for run in runs:
                print(f"  {self.n:>9,} orders, {kind:<4}: {path} ...", file=sys.stderr)
                result = run()
                print(f"      {result.seconds:6.1f} s, {result.rate:,.0f} rows/s, {result.check}", file=sys.stderr)
                self.results.append(result)

    def run(self, seeder) -> list[Result]:
        print(f"seeding {self.n:,} orders ...", file=sys.stderr)
        seeder.seed(self.n)
        self.load("full", None)
        before = self.maxima()
        seeder.next_day()
        self.load("incr", before)
        self.load("idle", self.maxima())
        return self.results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=os.environ.get("SIZES") or "100000,1000000", help="orders, comma-separated")
    parser.add_argument("--paths", default="records,copy,copy-tap,raw", help="of: records, copy, copy-tap, raw")
    parser.add_argument("--cases", default=os.environ.get("CASES") or "shop,wide", help="of: shop, wide")
    parser.add_argument("--wide-rows", type=int, default=1_000_000, help="rows of the wide table")
    parser.add_argument("--warehouse", default="files,lake", help="warehouse modes for the jobs: files, lake or both")
    parser.add_argument("--memory", help="each job container's memory limit, e.g. 2g or none (BATON_JOB_MEMORY)")
    args = parser.parse_args()
    cases = [c for c in args.cases.replace(" ", "").split(",") if c]
    if set(cases) - {"shop", "wide"}:
        raise SystemExit(f"--cases {args.cases!r}: choose from shop, wide")
    sizes = [int(s) for s in args.sizes.replace(" ", "").split(",") if s]
    paths = args.paths.split(",")
    if "shop" in cases and "copy-tap" in paths and not TAP.exists():
        raise SystemExit(f"{TAP} is missing: run `make setup` first (or leave copy-tap out of --paths)")
    started_on = machine()
    results: list[Result] = []
    wide: list[WideResult] = []
    with started(args) as bench:
        if "wide" in cases:
            wide = run_wide(bench, args.wide_rows)
        if "shop" in cases:
            seeder = bench.seeder()
            for n in sizes:
                base = bench.tmp / f"n{n}"
                base.mkdir()
                job_paths = [
                    JobPath(path, bench.warehouse(mode, f"n{n}-{path}-{mode}"), bench.system_url())
                    for path in JOB_PATHS
                    if path in paths
                    for mode in bench.modes
                ]
                results += SizeRun(n, paths, base, bench.shop_url, bench.jobs, job_paths).run(seeder)

    limit = f"{bench.jobs.mem_limit / 2**20:,.0f} MiB" if bench.jobs.mem_limit else "none"
    print(f"\nextract-load, {date.today()}, {started_on}, job memory limit: {limit}")
    for note in bench.notes:
        print(note)
    if results:
        report(results, sizes)
    if wide:
        report_wide(wide)
    return 0


def report(results: list[Result], sizes: list[int]) -> None:
    print("\nshop, by path:\n")
    header = ("orders", "path", "load", "rows", "s", "rows/s", "peak memory MiB", "incr/full", "source = raw")
    print("| " + " | ".join(header) + " |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---|")
    failed = "failed, see below"
    full_s = {(r.size, r.path): r.seconds for r in results if r.kind == "full"}
    for r in results:
        share = (
            f"{r.seconds / full_s[(r.size, r.path)]:.0%}" if r.kind == "incr" and full_s.get((r.size, r.path)) else ""
        )
        print(
            f"| {r.size:,} | {r.path} | {r.kind} | {r.rows:,} | {r.seconds:.1f} | {r.rate:,.0f} | "
            f"{r.peak_memory / 2**20:,.0f} | {share} | {failed if r.check.startswith('failed') else r.check} |"
        )

    print("\nGoals:")
    big = max(sizes)
    note = "" if big >= 1_000_000 else f" (at {big:,} orders; the goal is stated at 1,000,000)"
    for path in dict.fromkeys(r.path for r in results if r.path.startswith("copy")):
        r = next((r for r in results if r.size == big and r.path == path and r.kind == "full"), None)
        if r is None:
            continue
        if r.check.startswith("failed"):
            print(f"  full load, {path} >= {GOAL_ROWS_S:,} rows/s: not measured, the run {r.check}")
            continue
        verdict = "met" if r.rate >= GOAL_ROWS_S and r.check == "ok" else "NOT met"
        print(f"  full load, {path} >= {GOAL_ROWS_S:,} rows/s: {r.rate:,.0f} rows/s, {verdict}{note}")
    for r in results:
        files = next((f for f in results if (f.size, f.path, f.kind) == (r.size, r.path.split(", ")[0], r.kind)), None)
        if r.kind == "full" and r.path.endswith(", lake") and files and "ok" == r.check == files.check:
            ratio = r.seconds / files.seconds
            verdict = "met" if ratio <= GOAL_LAKE_RATIO else "NOT met"
            print(
                f"  full load in lake mode <= {GOAL_LAKE_RATIO} x files mode, {r.size:,} orders, {files.path}: "
                f"{r.seconds:.1f} s / {files.seconds:.1f} s = {ratio:.2f} x, {verdict}"
            )
    idle_s = {(r.size, r.path): r.seconds for r in results if r.kind == "idle" and r.check == "ok"}
    for r in results:
        full = full_s.get((r.size, r.path))
        if r.kind != "incr" or r.path == "raw limit" or not full or r.check != "ok":
            continue
        idle = idle_s.get((r.size, r.path))
        if idle is None:
            print(f"  incremental 1%, {r.size:,} orders, {r.path}: not judged, no run with nothing to move succeeded")
            continue
        # A run's fixed start (the run with nothing to move) is paid whatever it moves: the goal is on
        # what the incremental costs beyond it, against the full load.
        bound = idle + GOAL_INCR_SHARE * full
        verdict = "met" if r.seconds <= bound else "NOT met"
        print(
            f"  incremental 1% <= nothing to move + {GOAL_INCR_SHARE:.0%} of the full load, {r.size:,} orders, "
            f"{r.path}: {r.seconds:.1f} s <= {idle:.1f} + {GOAL_INCR_SHARE * full:.1f} = {bound:.1f} s, {verdict} "
            f"(the run with nothing to move is {idle / full:.0%} of the full load)"
        )
    done = [r for r in results if not r.check.startswith("failed")]
    lost = sum(r.lost for r in done)
    wrong = [r for r in done if r.check != "ok"]
    print(f"  0 rows lost: {'met' if not lost and not wrong else 'NOT met'} ({lost:,} rows lost in {len(done)} loads)")
    for r in wrong:
        print(f"    {r.size:,} {r.path} {r.kind}: {r.check}")
    for r in results:
        if r.check.startswith("failed"):
            print(f"  {r.size:,} {r.path} {r.kind}: {r.check}")


if __name__ == "__main__":
    sys.exit(main())
