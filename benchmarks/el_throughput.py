"""Extract-load throughput: the `shop` source by each path, and a 59-column wide table, through the
ingestion job, against throwaway Postgres databases (testcontainers), with Meltano's state in Postgres.

    python benchmarks/el_throughput.py [--sizes 100000,1000000] [--cases shop,wide] [--warehouse files,lake]
    (make bench-el SIZES=100000 CASES=wide)

shop, for each size: seed N orders (plus N/10 customers, 200 products); a full load by each path; a
next day (1% new orders plus status changes); an incremental load by each path from its own state;
then one more run of each with nothing new to move, which measures what a run costs before it moves
a row (start-up, discovery, connections). That fixed cost is printed next to the incremental goal.

- records:   the ingestion job in a container of the jobs image (`baton-job el shop`: Meltano runs
             tap-shop with `export_mode: records`, RECORD messages, into target-raw-shop, then the
             job reconciles raw with the source)
- copy:      the same job with `export_mode: copy` (COPY -> CSV files -> BATCH messages)
- copy, tap: the extractor alone on this machine (`export_mode: copy`), its CSV files written, no loader
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
container, Meltano and plugin start-up included), rows/s, peak memory and the check: for a load,
the warehouse's rows equal the source's (and no key twice), read in a container of the jobs image
as the kit's query tool opens the warehouse; for the extractor alone, rows exported equal rows to
move. Peak memory: of the job container (usage less inactive file cache, as `docker stats` counts
it), else of the process tree (RSS); sampled every 50 ms.

--warehouse files,lake runs the jobs once per warehouse mode (BATON_WAREHOUSE; lake: a DuckLake
whose catalog is a database of the benchmark's Postgres). A jobs image without the lake mode is
named in the output and measured in files mode only. --memory 2g limits each job container
(default: BATON_JOB_MEMORY where settings.env has it, else no limit).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    REPO,
    TABLES,
    Bench,
    Jobs,
    Seeder,
    Warehouse,
    bridge_url,
    count_check,
    counts_sql,
    create_database,
    docker_client,
    failure,
    image_on_engine,
    machine,
    pg_url,
    postgres,
    setting,
)

TAP = REPO / "meltano" / ".meltano" / "extractors" / "tap-baton-postgres" / "venv" / "bin" / "tap-baton-postgres"
GOAL_ROWS_S = 50_000
GOAL_INCR_SHARE = 0.10
GOAL_WIDE_ROWS_S = 60_000
JOB_PATHS = ("records", "copy")


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
        cmd = [sys.executable, __file__, "--raw-worker", json.dumps(spec)]
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


# --- the wide table --------------------------------------------------------------------------------
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=os.environ.get("SIZES") or "100000,1000000", help="orders, comma-separated")
    parser.add_argument("--paths", default="records,copy,copy-tap,raw", help="of: records, copy, copy-tap, raw")
    parser.add_argument("--cases", default=os.environ.get("CASES") or "shop,wide", help="of: shop, wide")
    parser.add_argument("--wide-rows", type=int, default=1_000_000, help="rows of the wide table")
    parser.add_argument("--warehouse", default="files", help="warehouse modes for the jobs: files, lake or both")
    parser.add_argument("--memory", help="each job container's memory limit, e.g. 2g or none (BATON_JOB_MEMORY)")
    parser.add_argument("--raw-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_worker:
        raw_worker(json.loads(args.raw_worker))
        return 0

    cases = [c for c in args.cases.replace(" ", "").split(",") if c]
    if set(cases) - {"shop", "wide"}:
        raise SystemExit(f"--cases {args.cases!r}: choose from shop, wide")
    sizes = [int(s) for s in args.sizes.replace(" ", "").split(",") if s]
    paths = args.paths.split(",")
    if "shop" in cases and "copy-tap" in paths and not TAP.exists():
        raise SystemExit(f"{TAP} is missing: run `make setup` first (or leave copy-tap out of --paths)")
    started_on = machine()
    image = image_on_engine(docker_client(), setting("BATON_POSTGRES_IMAGE"), "run `make base-images`")
    results: list[Result] = []
    wide: list[WideResult] = []
    with (
        postgres(image, "shop", REPO / "samples/shop/initdb") as shop,
        postgres(image, "meltano") as system,
        tempfile.TemporaryDirectory() as tmp,
    ):
        bench = Bench(args, shop, system, Path(tmp))
        if "wide" in cases:
            wide = run_wide(bench, args.wide_rows)
        if "shop" in cases:
            seeder = Seeder(pg_url(shop, "shop"), bench.marketing)
            for n in sizes:
                base = Path(tmp) / f"n{n}"
                base.mkdir()
                job_paths = [
                    JobPath(path, bench.warehouse(mode, f"n{n}-{path}-{mode}"), bench.system_url())
                    for path in JOB_PATHS
                    if path in paths
                    for mode in bench.modes
                ]
                results += SizeRun(n, paths, base, pg_url(shop, "shop"), bench.jobs, job_paths).run(seeder)

    limit = f"{bench.jobs.mem_limit / 2**20:,.0f} MiB" if bench.jobs.mem_limit else "none"
    print(f"\nextract-load, {date.today()}, {started_on}, job memory limit: {limit}")
    if results:
        report(results, sizes)
    if wide:
        report_wide(wide)
    return 0


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
    idle_s = {(r.size, r.path): r.seconds for r in results if r.kind == "idle" and r.check == "ok"}
    for r in results:
        full = full_s.get((r.size, r.path))
        if r.kind == "incr" and r.path != "raw limit" and full and r.check == "ok":
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
