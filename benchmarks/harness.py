"""What the benchmarks share: the kit's settings, throwaway databases, the ingestion and dbt jobs run
in containers of the jobs image (their wall time, peak memory and output), and reading the warehouse
the jobs wrote, in either warehouse mode.

Settings come from the environment, then .baton/images.env, then settings.env, read by the DAGs'
own reader (dags/baton/config.py); `make bench-*` exports them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from baton_contract.settings import setting as contract_setting

from benchmarks.sampling import Run, run_container

REPO = Path(__file__).resolve().parent.parent

MELTANO_ENVIRONMENT = "dev"  # the sandbox's
TABLES = {"orders": "order_id", "customers": "customer_id", "products": "product_id"}  # shop's, with keys
WAREHOUSE_MODES = ("files", "lake")


def setting(name: str, default: str | None = None) -> str:
    """A kit setting as the Makefile resolves it: the environment, then .baton/images.env (offline
    bases), then settings.env."""
    found = contract_setting(name, REPO / ".baton" / "images.env", REPO / "settings.env")
    if found:
        return found
    if default is not None:
        return default
    raise SystemExit(f"{name} is set neither in the environment nor in settings.env: run the benchmark through make")


def image_on_engine(client, name: str, build_hint: str) -> str:
    """`name`, or its offline drop-in (baton-local/<name>), whichever the engine has."""
    import docker

    for candidate in (name, f"{os.environ.get('BATON_BASE_PREFIX') or 'baton-local'}/{name}"):
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.get(candidate)
            return candidate
    raise SystemExit(f"image {name} is not on the Docker engine: {build_hint}")


def docker_client():
    """A Docker client, with testcontainers' reaper switched off where its image cannot be had."""
    import docker

    from tests.containers import configure_ryuk

    client = docker.from_env()
    configure_ryuk(client)
    return client


def pg_url(pg, dbname: str, driver: str = "") -> str:
    """The URL of a throwaway Postgres from this machine (its published port)."""
    scheme = f"postgresql+{driver}" if driver else "postgresql"
    return f"{scheme}://{pg.username}:{pg.password}@{pg.get_container_host_ip()}:{pg.get_exposed_port(5432)}/{dbname}"


def bridge_url(pg, dbname: str, driver: str = "") -> str:
    """The URL of a throwaway Postgres from another container: its address on the engine's bridge."""
    scheme = f"postgresql+{driver}" if driver else "postgresql"
    container = pg.get_wrapped_container()
    container.reload()
    address = container.attrs["NetworkSettings"]["IPAddress"]
    return f"{scheme}://{pg.username}:{pg.password}@{address}:5432/{dbname}"


def create_database(pg, prefix: str, template: str | None = None) -> str:
    """A new database in the throwaway Postgres `pg`, empty or a copy of `template`; its name."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url(pg, pg.dbname), autocommit=True) as conn:
        conn.execute(f'create database "{name}"' + (f' template "{template}"' if template else ""))
    return name


def parse_bytes(text: str) -> int | None:
    """'2g', '512m', '1536MB', '2GiB' -> bytes; '' or 'none' -> None (no limit)."""
    text = text.strip().lower()
    if text in {"", "0", "none", "unlimited"}:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", text)
    if not match:
        raise SystemExit(f"memory size {text!r} is not a size: use e.g. 2g, 1536m or none")
    return int(float(match.group(1)) * 1024 ** "bkmgt".index(match.group(2) or "b"))


def failure(out: subprocess.CompletedProcess, oom_killed: bool = False, mem_limit: int | None = None) -> str:
    """`failed (exit N): <the line naming the error>`; the whole output goes to a log file."""
    log = Path(tempfile.gettempdir()) / f"bench-failed-{uuid.uuid4().hex[:8]}.log"
    log.write_text(f"$ {' '.join(map(str, out.args))}\n--- stdout ---\n{out.stdout}\n--- stderr ---\n{out.stderr}")
    print(f"      output of the failed run: {log}", file=sys.stderr)
    if oom_killed:
        limit = f"{mem_limit / 2**20:,.0f} MiB" if mem_limit else "the machine's memory"
        return f"failed (exit {out.returncode}): killed for running out of memory at {limit} (--memory)"
    text = out.stderr + out.stdout
    if "Expecting value: line 1 column 1 (char 0)" in text and "Running catalog discovery" in text:
        # Meltano keeps one catalog file per extractor in meltano/.meltano/run/: another Meltano
        # run in this project at the same moment rewrote it under this one.
        return f"failed (exit {out.returncode}): empty catalog; another Meltano run used this project at the same time"
    lines = [line.strip(" │") for line in text.splitlines() if line.strip(" │")]
    raised = [line for line in lines if re.match(r"[\w.]*(Error|Exception)\b:", line)]
    errors = [line for line in lines if re.search(r"Error|Exception|error|failed", line)]
    return f"failed (exit {out.returncode}): {(raised[:1] or errors or lines or [''])[-1][:160]}"


# --- the jobs and the warehouse they write ---------------------------------------------------------
# Run in a container of the jobs image: the warehouse as the kit's own query tool opens it
# (tools/query.py; lake mode where the image has it), the SQL's rows printed as one JSON line.
READER_ENV = {"PYTHONPATH": "/opt/baton/tools"}  # where the image keeps query.py
# The loader's environment holds target_baton_duckdb, which tools/query.py imports (images/jobs/entrypoint.sh).
LOADER_PYTHON = "/opt/baton/meltano/.meltano/loaders/target-baton-duckdb/venv/bin/python"
_READER = r"""
import json, os, sys
from pathlib import Path
import query
if sys.argv[1] == "--probe":
    print("BENCH_ROWS " + json.dumps([[hasattr(query, "connect_lake")]]))
    sys.exit(0)
if os.environ.get("BATON_WAREHOUSE", "files") == "lake":
    conn = query.connect_lake(query.wh.Settings.from_env())
else:
    conn = query.connect(Path(os.environ["BATON_WAREHOUSE_DIR"]))
with conn:
    rows = conn.execute(sys.argv[1]).fetchall()
print("BENCH_ROWS " + json.dumps(rows, default=str))
"""


@dataclass
class Warehouse:
    """A warehouse of its own for one benchmark run: a host folder mounted at /data in the job
    containers (warehouse/, lake/, the DuckDB spill folder), in `files` or `lake` mode (the lake's
    catalog: a database of its own in the benchmark's Postgres)."""

    mode: str
    folder: Path
    lake_catalog: str = ""  # libpq URL of the catalog database, as containers reach it

    def __post_init__(self) -> None:
        for sub in ("", "warehouse", "lake"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
            (self.folder / sub).chmod(0o777)  # the jobs image runs as its own non-root user

    def env(self) -> dict[str, str]:
        env = {"BATON_WAREHOUSE": self.mode, "BATON_WAREHOUSE_DIR": "/data/warehouse"}
        if self.mode == "lake":
            env |= {"BATON_LAKE_CATALOG": self.lake_catalog, "BATON_LAKE_DATA_PATH": "/data/lake"}
        return env

    def volumes(self) -> dict:
        return {str(self.folder): {"bind": "/data", "mode": "rw"}}


@dataclass
class Jobs:
    """The kit's jobs as the DAGs run them: `baton-job el <source>` and `baton-job dbt ...` in
    containers of the jobs image, against the benchmark's databases (as containers reach them)."""

    client: Any
    image: str
    mem_limit: int | None = None
    marketing: Path | None = None  # host folder of the marketing files, mounted read-only
    base_env: dict[str, str] = field(default_factory=dict)

    def run(self, command: list[str], warehouse: Warehouse, env: dict[str, str] | None = None) -> Run:
        volumes = warehouse.volumes()
        if self.marketing:
            volumes[str(self.marketing)] = {"bind": "/data/marketing", "mode": "ro"}
        full_env = {
            "MELTANO_ENVIRONMENT": MELTANO_ENVIRONMENT,
            "BATON_MARKETING_DIR": "/data/marketing",
            **self.base_env,
            **warehouse.env(),
            **(env or {}),
        }
        return run_container(self.client, self.image, command, full_env, volumes, self.mem_limit)

    def query(self, warehouse: Warehouse, sql: str) -> list[list]:
        """Rows of `sql` on the warehouse, read in a container of the jobs image as the kit's query
        tool opens it (read-only)."""
        env = {**self.base_env, **warehouse.env(), **READER_ENV}
        out = run_container(self.client, self.image, [LOADER_PYTHON, "-c", _READER, sql], env, warehouse.volumes()).out
        for line in out.stdout.splitlines():
            if line.startswith("BENCH_ROWS "):
                return json.loads(line.removeprefix("BENCH_ROWS "))
        raise RuntimeError(f"reading the warehouse failed: {(out.stderr or out.stdout).strip()[-600:]}")

    def lake_available(self) -> bool:
        """Whether the jobs image knows the lake warehouse mode (BATON_WAREHOUSE=lake)."""
        probe = [LOADER_PYTHON, "-c", _READER, "--probe"]
        out = run_container(self.client, self.image, probe, READER_ENV, {})
        return out.ok and "BENCH_ROWS [[true]]" in out.out.stdout


def count_check(rows: list[list], expected: dict[str, int]) -> tuple[str, int]:
    """Rows of COUNTS_SQL against the source's counts: ("ok" or what differs, rows lost)."""
    found = {table: (count, distinct) for table, count, distinct in rows}
    lost, problems = 0, []
    for table, want in expected.items():
        count, distinct = found.get(table, (0, 0))
        if count != want:
            problems.append(f"{table} {count:,} != source {want:,}")
            lost += max(0, want - count)
        if count != distinct:
            problems.append(f"{table}: {count - distinct} duplicate keys")
    return ("ok" if not problems else "; ".join(problems)), lost


def counts_sql(tables: dict[str, str], database: str = "raw_shop", schema: str = "shop") -> str:
    """Rows, distinct keys of each table: [table, count, distinct]."""
    return " union all ".join(
        f"select '{table}', count(*), count(distinct {key}) from {database}.{schema}.{table}"
        for table, key in tables.items()
    )


@contextlib.contextmanager
def started(args: Any) -> Iterator[Bench]:
    """What every benchmark starts from: throwaway Postgres databases (the shop source, created by
    its init scripts; Meltano's system databases), a temporary folder, and the Bench on them."""
    image = image_on_engine(docker_client(), setting("BATON_POSTGRES_IMAGE"), "run `make base-images`")
    with (
        postgres(image, "shop", REPO / "samples/shop/initdb") as shop,
        postgres(image, "meltano") as system,
        tempfile.TemporaryDirectory() as tmp,
    ):
        yield Bench(args, shop, system, Path(tmp))


@contextlib.contextmanager
def postgres(image: str, name: str, initdb: Path | None = None):
    """A throwaway Postgres (testcontainers) named `name` (user, password and database)."""
    from testcontainers.community.postgres import PostgresContainer

    pg = PostgresContainer(image, username=name, password=name, dbname=name)
    if initdb:
        pg.with_volume_mapping(str(initdb), "/docker-entrypoint-initdb.d", "ro")
    with pg:
        yield pg


# --- what every benchmark starts from ---------------------------------------------------------------
class Seeder:
    """The sample generator (samples/generate.py) on the benchmark's shop database."""

    def __init__(self, shop_url: str, marketing: Path):
        self.shop_url, self.marketing = shop_url, marketing

    def seed(self, orders: int) -> float:
        from samples import generate

        started = time.perf_counter()
        generate.seed(self.shop_url, self.marketing, orders, date(2026, 1, 1), 30)
        return time.perf_counter() - started

    def next_day(self, new_pct: float = 1.0) -> date:
        from samples import generate

        return generate.next_day(self.shop_url, self.marketing, new_pct)


class Bench:
    """The benchmark's databases, jobs and warehouses: what every case and size starts from."""

    def __init__(self, args, shop, system, tmp: Path):
        self.args, self.shop, self.system, self.tmp = args, shop, system, tmp
        client = docker_client()
        image = image_on_engine(client, setting("BATON_JOBS_IMAGE"), "run `make jobs-image`")
        memory = parse_bytes(args.memory if args.memory is not None else setting("BATON_JOB_MEMORY", ""))
        self.shop_url = pg_url(shop, "shop")
        self.marketing = tmp / "marketing"
        self.marketing.mkdir()
        self.jobs = Jobs(client, image, memory, self.marketing, {"BATON_SHOP_DB_URL": bridge_url(shop, "shop")})
        self.modes = warehouse_modes(args.warehouse, self.jobs)
        self.notes: list[str] = []
        self._system_template: str | None = None

    def seeder(self) -> Seeder:
        """The sample generator on the benchmark's shop database."""
        return Seeder(self.shop_url, self.marketing)

    def system_url(self) -> str:
        """A Meltano system database of its own, as containers reach it: a copy of one the jobs image
        migrated once (`meltano upgrade database`), as a deployment's is before its loads, so that
        no measured job pays Meltano's one-time schema migration (printed once, apart)."""
        if self._system_template is None:
            self._system_template = create_database(self.system, "meltano_template")
            env = {"MELTANO_DATABASE_URI": bridge_url(self.system, self._system_template, driver="psycopg")}
            run = self.jobs.run(["meltano", "upgrade", "database"], self.warehouse("files", "system-template"), env)
            if not run.ok:
                raise SystemExit(f"migrating Meltano's system database failed: {failure(run.out)}")
            self.notes.append(f"Meltano's system database migrated once, before the jobs: {run.seconds:.1f} s")
            print(self.notes[-1], file=sys.stderr)
        name = create_database(self.system, "meltano", template=self._system_template)
        return bridge_url(self.system, name, driver="psycopg")

    def warehouse(self, mode: str, name: str) -> Warehouse:
        catalog = bridge_url(self.system, create_database(self.system, "lake")) if mode == "lake" else ""
        return Warehouse(mode, self.tmp / name, catalog)


def warehouse_modes(requested: str, jobs: Jobs) -> list[str]:
    """The warehouse modes asked for that the jobs image has; the others named on stderr."""
    modes = [m for m in requested.replace(" ", "").split(",") if m]
    unknown = [m for m in modes if m not in WAREHOUSE_MODES]
    if unknown:
        raise SystemExit(f"--warehouse {requested!r}: choose from {', '.join(WAREHOUSE_MODES)}")
    if "lake" in modes and not jobs.lake_available():
        print(
            f"lake mode is not available in {jobs.image} (its query tool has no lake connection): "
            "BATON_WAREHOUSE=lake skipped, measuring files only",
            file=sys.stderr,
        )
        modes = [m for m in modes if m != "lake"] or ["files"]
    return modes


def cpu_reference() -> float:
    """Seconds one core takes for 20 million Python additions: the same code's figures are compared
    across machines (and across days of one VM) by it; lower is faster."""
    started = time.perf_counter()
    total = 0
    for i in range(20_000_000):
        total += i
    return time.perf_counter() - started


def machine() -> str:
    """The machine a benchmark ran on: its name, CPUs, memory, load at the start and CPU reference."""
    import platform

    load = os.getloadavg()[0]
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.node()}, {os.cpu_count()} CPUs, {mem:.0f} GiB, load {load:.1f} at the start, "
        f"CPU reference {cpu_reference():.2f} s (20M Python additions on one core; lower is faster)"
    )
