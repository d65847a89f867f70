"""Extract-load throughput of the `shop` source, side by side: the record path, the COPY path and
the raw limit, against a throwaway Postgres (testcontainers), with Meltano's state in Postgres.

    python benchmarks/el_throughput.py [--sizes 100000,1000000] [--warehouse files|lake]
                                                                   (make bench-el SIZES=100000)

For each size: seed N orders (plus N/10 customers, 200 products); a full load by each path; a
next day (1% new orders plus status changes); an incremental load by each path from its own state; then
one more run of each with nothing new to move, which measures what a run costs before it moves a
row (start-up, discovery, connections). That fixed cost is printed next to the incremental goal.

- records:   the ingestion job in a container of the jobs image (`baton-job el shop`: Meltano runs
             tap-shop with `export_mode: records`, RECORD messages, into target-raw-shop, then the
             job reconciles raw with the source)
- copy:      the same job with `export_mode: copy` (COPY -> CSV files -> BATCH messages)
- copy, tap: the extractor alone on this machine (`export_mode: copy`), its CSV files written, no loader
- raw limit: on this machine, psycopg `COPY (...) TO STDOUT` into CSV files + DuckDB `read_csv`

Each row: rows moved, wall seconds (for the jobs: from `docker run` to the container's exit, so
container, Meltano and plugin start-up included), rows/s, peak memory and the count check: for a
load, the warehouse's rows equal the source's (and no key twice); for the extractor alone, rows
exported equal rows to move. Peak memory: of the job container (usage less inactive file cache,
as `docker stats` counts it), else of the process tree (RSS); sampled every 50 ms.

--warehouse lake: the jobs load a DuckLake instead (catalog: a database of the benchmark's Postgres,
data: a folder of the job's volume); their count check is the job's own reconciliation (source = raw
per stream, no key twice), read from its BATON_RESULT line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TABLES = {"orders": "order_id", "customers": "customer_id", "products": "product_id"}
TAP = REPO / "meltano" / ".meltano" / "extractors" / "tap-baton-postgres" / "venv" / "bin" / "tap-baton-postgres"
GOAL_ROWS_S = 50_000
GOAL_INCR_SHARE = 0.10


# --- sampling the memory of a process tree --------------------------------------------------------
def _tree_rss(pid: int) -> int:
    try:
        import psutil

        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total
    except ImportError:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
        total, todo = 0, [pid]
        while todo:
            current = todo.pop()
            total += rss.get(current, 0)
            todo.extend(children.get(current, []))
        return total


def run_sampled(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run `cmd`; its wall time, the peak RSS of its process tree, and its output."""
    peak = 0
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        proc.wait()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())
    return seconds, peak, result


def run_container(
    client, image: str, command: list[str], env: dict[str, str], volumes: dict
) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run `command` in a container of `image`; its wall time, its peak memory and its output."""
    peak = 0
    started = time.perf_counter()
    container = client.containers.run(image, command, environment=env, volumes=volumes, detach=True)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            with contextlib.suppress(Exception):  # the container may end between two readings
                mem = container.stats(stream=False, one_shot=True).get("memory_stats", {})
                stats = mem.get("stats", {})
                cache = stats.get("total_inactive_file", stats.get("inactive_file", 0))
                peak = max(peak, mem.get("usage", 0) - cache)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        code = container.wait()["StatusCode"]
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        stdout = container.logs(stderr=False).decode(errors="replace")
        stderr = container.logs(stdout=False).decode(errors="replace")
    finally:
        container.remove(force=True)
    return seconds, peak, subprocess.CompletedProcess(["docker run", image, *command], code, stdout, stderr)


# --- the raw limit: COPY TO STDOUT + DuckDB read_csv (run as a child process, to be measured) ------
def raw_worker(spec: dict) -> None:
    import duckdb
    import psycopg

    folder = Path(spec["folder"])
    with psycopg.connect(spec["shop_url"]) as pg, duckdb.connect(spec["duckdb"]) as db:
        db.execute("create schema if not exists shop")
        for table, key in TABLES.items():
            where = f"where updated_at >= '{spec['since'][table]}'" if spec.get("since") else ""
            path = folder / f"{table}-{uuid.uuid4().hex[:6]}.csv"
            with (
                path.open("wb") as fh,
                pg.cursor().copy(f"copy (select * from shop.{table} {where}) to stdout (format csv)") as copy,
            ):
                for chunk in copy:
                    fh.write(chunk)
            cols = pg.execute(
                "select column_name, case when data_type = 'numeric' then format('decimal(%%s,%%s)', "
                "numeric_precision, numeric_scale) when data_type like 'timestamp with%%' then 'timestamptz' "
                "else data_type end from information_schema.columns where table_schema = 'shop' and table_name = %s "
                "order by ordinal_position",
                (table,),
            ).fetchall()
            columns = "{" + ", ".join(f"'{c}': '{t}'" for c, t in cols) + "}"
            read = f"read_csv('{path}', header = false, columns = {columns}, allow_quoted_nulls = false)"
            if spec.get("since"):
                db.execute(f"delete from shop.{table} where {key} in (select {key} from {read})")
                db.execute(f"insert into shop.{table} select * from {read}")
            else:
                db.execute(f"create or replace table shop.{table} as select * from {read}")
            path.unlink()


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


def failure(out: subprocess.CompletedProcess) -> str:
    """`failed (exit N): <the line naming the error>`; the whole output goes to a log file."""
    log = Path(tempfile.gettempdir()) / f"bench-el-failed-{uuid.uuid4().hex[:8]}.log"
    log.write_text(f"$ {' '.join(map(str, out.args))}\n--- stdout ---\n{out.stdout}\n--- stderr ---\n{out.stderr}")
    print(f"      output of the failed run: {log}", file=sys.stderr)
    text = out.stderr + out.stdout
    if "Expecting value: line 1 column 1 (char 0)" in text and "Running catalog discovery" in text:
        # Meltano keeps one catalog file per extractor in meltano/.meltano/run/: another Meltano
        # run in this project at the same moment rewrote it under this one.
        return f"failed (exit {out.returncode}): empty catalog; another Meltano run used this project at the same time"
    lines = [line.strip(" │") for line in text.splitlines() if line.strip(" │")]
    raised = [line for line in lines if re.match(r"[\w.]*(Error|Exception)\b:", line)]
    errors = [line for line in lines if re.search(r"Error|Exception|error|failed", line)]
    return f"failed (exit {out.returncode}): {(raised[:1] or errors or lines or [''])[-1][:160]}"


def warehouse_check(db: Path, source_counts: dict[str, int]) -> tuple[str, int]:
    import duckdb

    if not db.exists():
        return "no warehouse file", sum(source_counts.values())
    lost, problems = 0, []
    with duckdb.connect(str(db), read_only=True) as conn:
        for table, key in TABLES.items():
            try:
                count, distinct = conn.execute(f"select count(*), count(distinct {key}) from shop.{table}").fetchone()
            except duckdb.Error:
                count, distinct = 0, 0
            if count != source_counts[table]:
                problems.append(f"{table} {count:,} != source {source_counts[table]:,}")
                lost += max(0, source_counts[table] - count)
            if count != distinct:
                problems.append(f"{table}: {count - distinct} duplicate keys")
    return ("ok" if not problems else "; ".join(problems)), lost


def reconciled_check(stdout: str) -> tuple[str, int]:
    """The job's own reconciliation (lake mode): source = raw and no key twice, per stream."""
    lines = [line for line in stdout.splitlines() if line.startswith("BATON_RESULT: ")]
    if not lines:
        return "no BATON_RESULT line", 0
    result = json.loads(lines[-1].removeprefix("BATON_RESULT: "))
    lost, problems = 0, []
    for stream, f in sorted((result.get("reconciled") or {}).items()):
        if f["raw"] != f["expected"]:
            problems.append(f"{stream} {f['raw']:,} != source {f['expected']:,}")
            lost += max(0, f["expected"] - f["raw"])
        if f.get("raw_keys") is not None and f["raw_keys"] != f["raw"]:
            problems.append(f"{stream}: {f['raw'] - f['raw_keys']} duplicate keys")
    return ("ok" if result.get("ok") and not problems else "; ".join(problems) or "not ok"), lost


@dataclass
class Jobs:
    """Where the ingestion job runs: the jobs image, and the databases as its containers reach them."""

    client: Any
    image: str
    shop_url: str
    system_url: Callable[[str], str]
    warehouse: str = "files"
    lake_catalog: Callable[[str], str] | None = None  # libpq URL of a catalog database, as the job reaches it


class SizeRun:
    """One size: the source seeded, one Meltano system database and warehouse per Meltano path."""

    def __init__(self, n: int, paths: list[str], base: Path, shop_url: str, system_url, data_path_cls, jobs: Jobs):
        import psycopg

        self.n, self.paths, self.base, self.shop_url, self.jobs = n, paths, base, shop_url, jobs
        self.results: list[Result] = []
        self.datapaths = {}
        self.system_dbs: dict[str, str] = {}
        for path in ("records", "copy"):
            if path not in paths:
                continue
            db = f"meltano_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(system_url("meltano"), autocommit=True) as conn:
                conn.execute(f'create database "{db}"')
            self.system_dbs[path] = db
            dp = data_path_cls(
                shop_url=shop_url,
                meltano_url=system_url(db, driver="psycopg"),
                warehouse=base / f"wh-{path}",
                marketing=base / "mkt",
                environment="dev",
            )
            dp.warehouse.mkdir()
            dp.warehouse.chmod(0o777)  # the jobs image runs as its own non-root user
            dp.run("meltano", "upgrade", "database")
            self.datapaths[path] = dp
        self.seeder = data_path_cls(shop_url=shop_url, meltano_url="", warehouse=base / "wh", marketing=base / "mkt")
        self.tap_state: dict = {}
        self.tap_dir = base / "batches-tap"
        self.raw_db = base / "raw-limit.duckdb"

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
    def job(self, path: str, kind: str, rows: int, counts: dict[str, int]) -> Result:
        """The ingestion job as the DAGs run it, in a container of the jobs image: load, reconcile."""
        dp = self.datapaths[path]
        env = {
            "MELTANO_ENVIRONMENT": dp.environment,
            "MELTANO_DATABASE_URI": self.jobs.system_url(self.system_dbs[path]),
            "BATON_SHOP_DB_URL": self.jobs.shop_url,
            "TAP_SHOP_EXPORT_MODE": path,
        }
        if self.jobs.warehouse == "lake":
            env.update(
                BATON_WAREHOUSE="lake",
                BATON_LAKE_CATALOG=self.jobs.lake_catalog(f"lake_{self.system_dbs[path]}"),
                BATON_LAKE_DATA_PATH="/data/warehouse/lake",
            )
        volumes = {str(dp.warehouse): {"bind": "/data/warehouse", "mode": "rw"}}
        seconds, peak, out = run_container(self.jobs.client, self.jobs.image, ["el", "shop"], env, volumes)
        if out.returncode != 0:
            return Result(self.n, path, kind, rows, seconds, peak, failure(out))
        if self.jobs.warehouse == "lake":
            check, lost = reconciled_check(out.stdout)
        else:
            check, lost = warehouse_check(dp.warehouse / "raw_shop.duckdb", counts)
        return Result(self.n, path, kind, rows, seconds, peak, check, lost)

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
        cmd = [sys.executable, __file__, "--raw-worker", json.dumps(spec)]
        seconds, peak, out = run_sampled(cmd, dict(os.environ), REPO)
        if out.returncode != 0:
            return Result(self.n, "raw limit", kind, rows, seconds, peak, failure(out))
        check, lost = warehouse_check(self.raw_db, counts)
        return Result(self.n, "raw limit", kind, rows, seconds, peak, check, lost)

    def load(self, kind: str, since: dict | None) -> None:
        counts = self.source_counts()
        rows = self.to_move(since) if since else sum(counts.values())
        for path in self.paths:
            print(f"  {self.n:>9,} orders, {kind:<4}: {path} ...", file=sys.stderr)
            if path in self.datapaths:
                result = self.job(path, kind, rows, counts)
            elif path == "copy-tap":
                result = self.tap(kind, rows)
            elif path == "raw":
                result = self.raw(kind, since, rows, counts)
            else:
                raise SystemExit(f"unknown path {path!r}: records, copy, copy-tap or raw")
            print(f"      {result.seconds:6.1f} s, {result.rate:,.0f} rows/s, {result.check}", file=sys.stderr)
            self.results.append(result)

    def run(self) -> list[Result]:
        print(f"seeding {self.n:,} orders ...", file=sys.stderr)
        self.seeder.seed(self.n)
        self.load("full", None)
        before = self.maxima()
        self.seeder.next_day(new_pct=1)
        self.load("incr", before)
        self.load("idle", self.maxima())
        return self.results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=os.environ.get("SIZES") or "100000,1000000", help="orders, comma-separated")
    parser.add_argument("--paths", default="records,copy,copy-tap,raw", help="of: records, copy, copy-tap, raw")
    parser.add_argument("--warehouse", choices=("files", "lake"), default="files", help="where the jobs load")
    parser.add_argument("--raw-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_worker:
        raw_worker(json.loads(args.raw_worker))
        return 0

    import docker
    from testcontainers.community.postgres import PostgresContainer

    from tests.conftest import image_setting
    from tests.containers import configure_ryuk
    from tests.integration.conftest import bridge_url, pg_url
    from tests.integration.datapath import DataPath, check_environments

    check_environments()
    client = docker.from_env()
    configure_ryuk(client)
    jobs_image = image_setting("BATON_JOBS_IMAGE")
    try:
        client.images.get(jobs_image)
    except docker.errors.ImageNotFound:
        raise SystemExit(f"BATON_JOBS_IMAGE={jobs_image} is not built: run `make jobs-image`") from None
    sizes = [int(s) for s in args.sizes.replace(" ", "").split(",") if s]
    paths = args.paths.split(",")
    image = image_setting("BATON_POSTGRES_IMAGE")

    shop = PostgresContainer(image, username="shop", password="shop", dbname="shop")
    shop.with_volume_mapping(str(REPO / "samples/shop/initdb"), "/docker-entrypoint-initdb.d", "ro")
    system = PostgresContainer(image, username="meltano", password="meltano", dbname="meltano")
    results: list[Result] = []
    with shop, system, tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            base = Path(tmp) / f"n{n}"
            base.mkdir()

            def system_url(db: str, driver: str = "") -> str:
                return pg_url(system, db, driver=driver)

            jobs = Jobs(
                client,
                jobs_image,
                bridge_url(shop, "shop"),
                lambda db: bridge_url(system, db, driver="psycopg"),
                warehouse=args.warehouse,
                lake_catalog=lambda db: bridge_url(system, db),
            )
            results += SizeRun(n, paths, base, pg_url(shop, "shop"), system_url, DataPath, jobs).run()

    report(results, sizes)
    return 0


def report(results: list[Result], sizes: list[int]) -> None:
    print(f"\nshop extract-load by path, {date.today()}, {platform.node()}, {os.cpu_count()} CPUs\n")
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
    for path in ("copy", "copy, tap"):
        r = next((r for r in results if r.size == big and r.path == path and r.kind == "full"), None)
        if r is None:
            continue
        if r.check.startswith("failed"):
            print(f"  full load, {path} >= {GOAL_ROWS_S:,} rows/s: not measured, the run {r.check}")
            continue
        verdict = "met" if r.rate >= GOAL_ROWS_S and r.check == "ok" else "NOT met"
        print(f"  full load, {path} >= {GOAL_ROWS_S:,} rows/s: {r.rate:,.0f} rows/s, {verdict}{note}")
    idle_s = {(r.size, r.path): r.seconds for r in results if r.kind == "idle" and r.check == "ok"}
    for r in results:
        full = full_s.get((r.size, r.path))
        if r.kind == "incr" and r.path in {"copy", "records", "copy, tap"} and full and r.check == "ok":
            share = r.seconds / full
            verdict = "met" if share <= GOAL_INCR_SHARE else "NOT met"
            print(
                f"  incremental 1% <= 10% of the full load's time, {r.size:,} orders, {r.path}: {share:.0%}, {verdict}"
            )
            idle = idle_s.get((r.size, r.path))
            if idle is not None:
                # What a run costs before it moves a row, and the work beyond it that scales with rows.
                own_incr, own_full = max(0.0, r.seconds - idle), max(0.0, full - idle)
                share = f" = {own_incr / own_full:.0%}" if own_full >= 1.0 else ""  # below 1 s it is noise
                print(
                    f"      a run with nothing to move takes {idle:.1f} s ({idle / full:.0%} of the full load); "
                    f"beyond it the incremental takes {own_incr:.1f} s, the full load {own_full:.1f} s{share}"
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
