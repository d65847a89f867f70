"""Stack tier: the compose sandbox, started with `make up` as a user would.

Needs a Docker engine and compose; where none answers the tier skips with one reason, and under
CI (CI=true) that absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import duckdb
import psycopg
import pytest
from xdist.scheduler import LoadScopeScheduling

from tests.conftest import REPO, setting
from tests.containers import docker_engine, remove_compose_project
from tools.batonctl import NOT_IN_CYCLE, Airflow

PROJECT = os.environ.get("BATON_STACKTEST_PROJECT", "baton-stacktest")
AIRFLOW_PORT = int(os.environ.get("BATON_STACKTEST_AIRFLOW_PORT", "18080"))
SHOP_KEYS = {"customers": "customer_id", "products": "product_id", "orders": "order_id"}
SHOP_PORT = int(os.environ.get("BATON_STACKTEST_SHOP_PORT", "15433"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.stack)


# The modules that bring up a stack of their own (a scratch clone, its own compose project and ports);
# every other module's tests share the test stack (the `stack` fixture).
OWN_STACK_MODULES = ("test_onboarding.py", "test_readme.py")


class ByStack(LoadScopeScheduling):
    """Under xdist (make test-stack), one unit of work per stack: the shared test stack's tests, in
    file order on one worker, and each scratch clone's module; different stacks run side by side."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        return module if module in OWN_STACK_MODULES else "stack"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> ByStack:
    return ByStack(config, log)


# Figures the tests measured: taken into the test's report (so that they travel from a worker to the
# session that prints the summary, under xdist as without it), shown at the end even when it passes.
_PENDING: list[str] = []
_REPORTS: list[str] = []


def report(line: str) -> None:
    """A figure a drill measured, shown at the end of the test run even when the test passes."""
    _PENDING.append(line)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    rep.user_properties.extend(("figure", line) for line in _PENDING)
    _PENDING.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _REPORTS.extend(value for name, value in report.user_properties if name == "figure")


def pytest_terminal_summary(terminalreporter) -> None:
    if _REPORTS:
        terminalreporter.section("figures measured by the stack tests")
        for line in _REPORTS:
            terminalreporter.write_line(line)


@dataclass
class Stack:
    root: Path
    env: dict[str, str]
    docker: docker.DockerClient
    # Campaigns in the slow marketing history (x 300 days of rows).
    history_campaigns: int = int(os.environ.get("BATON_STACKTEST_HISTORY_CAMPAIGNS", "400"))
    last_cycle: str | None = None
    # What each `make` run against this stack printed (the access tests look for secrets in it).
    outputs: list[tuple[str, str]] = field(default_factory=list)
    _airflow: Airflow | None = field(default=None, repr=False)

    @property
    def warehouse(self) -> Path:
        return self.root / "data" / "warehouse"

    @property
    def marketing(self) -> Path:
        return self.root / "data" / "marketing"

    def setting(self, key: str) -> str:
        for line in (self.root / "stack.env").read_text().splitlines():
            if line.startswith(f"{key}="):
                return line.split("=", 1)[1]
        raise KeyError(f"{key} is not in {self.root / 'stack.env'}")

    @property
    def shop_url(self) -> str:
        return f"postgresql://shop:{self.setting('BATON_SHOP_PASSWORD')}@127.0.0.1:{SHOP_PORT}/shop"

    @property
    def airflow(self) -> Airflow:
        if self._airflow is None:
            self._airflow = Airflow(
                f"http://127.0.0.1:{AIRFLOW_PORT}",
                setting("BATON_AIRFLOW_USER"),
                self.setting("BATON_AIRFLOW_PASSWORD"),
            )
        return self._airflow

    def source(self, sql: str, params: tuple | None = None) -> list[tuple]:
        """Rows from the shop source database."""
        with psycopg.connect(self.shop_url) as conn:
            return conn.execute(sql, params).fetchall()

    def warehouse_query(self, database: str, sql: str) -> list[tuple]:
        """Rows from raw_<source>.duckdb or analytics.duckdb, opened read-only."""
        with duckdb.connect(str(self.warehouse / f"{database}.duckdb"), read_only=True) as conn:
            return conn.execute(sql).fetchall()

    def assert_raw_equals_source(self) -> dict[str, int]:
        """Every shop table: raw rows = source rows, no duplicate keys; returns the counts."""
        counts = {}
        for table, key in SHOP_KEYS.items():
            (source_count,) = self.source(f"select count(*) from shop.{table}")[0]
            raw_count, keys = self.warehouse_query(
                "raw_shop", f"select count(*), count(distinct {key}) from shop.{table}"
            )[0]
            assert raw_count == keys, f"raw_shop.{table}: {raw_count} rows but {keys} distinct keys (duplicates)"
            assert raw_count == source_count, f"raw_shop.{table}: {raw_count} rows, source {source_count}"
            counts[table] = raw_count
        return counts

    def make(self, *targets: str) -> None:
        """Run make targets against this stack, off a terminal as CI runs them; the output goes
        to the test log and is kept in `outputs`."""
        proc = subprocess.run(["make", *targets], cwd=REPO, env=self.env, check=False, capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        self.outputs.append((f"make {' '.join(targets)}", proc.stdout + proc.stderr))
        assert proc.returncode == 0, f"`make {' '.join(targets)}` exited with {proc.returncode}"

    def containers(self) -> list[str]:
        """Every container of this stack: compose services and job containers launched by Airflow."""
        found = self.docker.containers.list(all=True, filters={"label": f"com.docker.compose.project={PROJECT}"})
        found += self.docker.containers.list(all=True, filters={"label": f"baton.project={PROJECT}"})
        return sorted({c.name for c in found})

    def unhealthy_services(self) -> list[str]:
        bad = []
        for c in self.docker.containers.list(filters={"label": f"com.docker.compose.project={PROJECT}"}):
            health = c.attrs["State"].get("Health", {}).get("Status")
            if health not in (None, "healthy"):
                bad.append(f"{c.name}: {health}")
        return bad

    def cycle_dags(self) -> list[str]:
        return sorted(d["dag_id"] for d in self.airflow.dags() if d["dag_id"] not in NOT_IN_CYCLE)


def copy_checkout(target: Path) -> Path:
    """A scratch clone of the checkout in `target`: its files as git sees them (committed or not),
    without local state (.venv, .baton, images.env, compose/.env), in a git repository of its own."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO / name.decode()
        if src.is_file():
            dst = target / name.decode()
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    return target


def scratch_env(**settings: str) -> dict[str, str]:
    """The environment of a make in a scratch clone: this process's, without what the make that
    runs the tests exported for this checkout (its project, env file, data folder, images, bases,
    virtualenv), plus `settings` (ports apart from every other stack's)."""
    # make exports its command line's variables too (`make test-stack PYTEST_ARGS=...`).
    knobs = {"MFLAGS", "PYTEST_ARGS", "CLI_ARGS", "BENCH_ARGS", "DOCKER_BUILD_FLAGS", "CONFIRM", "FORCE", "ENV", "ARGS"}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BATON_", "MAKE", "UV_PROJECT", "VIRTUAL_ENV")) and k not in knobs
    }
    return {**env, **settings}


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    client = docker_engine()
    root = REPO / ".baton" / "stacktest"
    env = {
        **os.environ,
        "BATON_PROJECT": PROJECT,
        "BATON_ENV_FILE": str(root / "stack.env"),
        "BATON_DATA_DIR": str(root / "data"),
        "BATON_AIRFLOW_PORT": str(AIRFLOW_PORT),
        "BATON_SHOP_PORT": str(SHOP_PORT),
    }
    # Its own images, like any project's (baton/jobs:baton-stacktest): `make reset` removes them.
    for key in ("BATON_JOBS_IMAGE", "BATON_AIRFLOW_IMAGE"):
        env.pop(key, None)
    stack = Stack(root=root, env=env, docker=client)
    # From nothing: no containers, volumes, data or secrets of an earlier run.
    if (root / "stack.env").exists():
        stack.make("reset", "CONFIRM=yes")
    remove_compose_project(client, PROJECT)
    shutil.rmtree(root, ignore_errors=True)
    try:
        stack.make("up")
        yield stack
    finally:
        subprocess.run(["make", "reset", "CONFIRM=yes"], cwd=REPO, env=env, check=False, capture_output=True)
