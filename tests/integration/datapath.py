"""Run the kit's real data path (Meltano and dbt from their locked venvs) against given databases.

Used by the integration tests and the benchmarks; nothing here is mocked.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psycopg

from samples import generate
from tests.conftest import REPO

MELTANO = REPO / ".venvs" / "meltano" / "bin" / "meltano"
MELTANO_PYTHON = REPO / ".venvs" / "meltano" / "bin" / "python"
DBT = REPO / ".venvs" / "dbt" / "bin" / "dbt"
SOURCES = {"shop": ("tap-shop", "target-raw-shop"), "marketing": ("tap-marketing", "target-raw-marketing")}


def check_environments() -> None:
    for tool in (MELTANO, DBT):
        if not tool.exists():
            raise RuntimeError(f"{tool} is missing: run `make setup` first")
    if not (REPO / "meltano" / ".meltano" / "extractors" / "tap-baton-postgres").exists():
        raise RuntimeError("Meltano plugins are not installed in meltano/.meltano: run `make setup` first")


@dataclass
class DataPath:
    shop_url: str
    meltano_url: str
    warehouse: Path
    marketing: Path
    environment: str = "ci"
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def fresh(
        cls,
        shop_db,
        meltano_db,
        tmp_path: Path,
        orders: int,
        days: int = 30,
        migrate: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> DataPath:
        """A seeded shop, an empty warehouse and a new Meltano system database of its own."""
        from tests.integration.conftest import pg_url

        check_environments()
        system_db = f"meltano_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg_url(meltano_db, "meltano"), autocommit=True) as conn:
            conn.execute(f'create database "{system_db}"')
        dp = cls(
            shop_url=pg_url(shop_db, "shop"),
            meltano_url=pg_url(meltano_db, system_db, driver="psycopg"),
            warehouse=tmp_path / "warehouse",
            marketing=tmp_path / "marketing",
            extra_env=dict(extra_env or {}),
        )
        dp.warehouse.mkdir()
        dp.seed(orders, days)
        if migrate:
            # Meltano's system tables once, as a deployment's init step does: two first runs at
            # the same moment on an empty system database would both try to create them.
            dp.run("meltano", "upgrade", "database")
        return dp

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "MELTANO_ENVIRONMENT": self.environment,
            "MELTANO_DATABASE_URI": self.meltano_url,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "BATON_SHOP_DB_URL": self.shop_url,
            "BATON_WAREHOUSE_DIR": str(self.warehouse),
            "BATON_MARKETING_DIR": str(self.marketing),
            "DBT_PROFILES_DIR": str(REPO / "dbt"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **self.extra_env,
        }

    # --- jobs ------------------------------------------------------------------------------------
    def command(self, tool: str, *args: str) -> tuple[list[str], Path]:
        if tool == "meltano":
            return [str(MELTANO), *args], REPO / "meltano"
        return [str(DBT), *args], REPO / "dbt"

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd, cwd = self.command(tool, *args)
        result = subprocess.run(cmd, cwd=cwd, env=self.env(), capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} failed with exit code {result.returncode}\n"
                f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
            )
        return result

    def start(self, tool: str, *args: str) -> subprocess.Popen[str]:
        cmd, cwd = self.command(tool, *args)
        return subprocess.Popen(
            cmd, cwd=cwd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def el(self, source: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        tap, target = SOURCES[source]
        return self.run("meltano", "run", tap, target, check=check)

    def job(self, source: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The ingestion job as the jobs image runs it (`baton-job el <source>`): load, reconcile."""
        cmd = [str(MELTANO_PYTHON), str(REPO / "meltano" / "bin" / "el.py"), source]
        env = {**self.env(), "BATON_MELTANO_BIN": str(MELTANO)}
        result = subprocess.run(cmd, cwd=REPO / "meltano", env=env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"el {source} failed ({result.returncode}):\n{result.stdout[-6000:]}")
        return result

    @staticmethod
    def job_result(result: subprocess.CompletedProcess[str]) -> dict:
        """The job's BATON_RESULT line."""
        last = result.stdout.strip().splitlines()[-1]
        assert last.startswith("BATON_RESULT: "), result.stdout[-3000:]
        return json.loads(last.removeprefix("BATON_RESULT: "))

    def state_id(self, source: str) -> str:
        tap, target = SOURCES[source]
        return f"{self.environment}:{tap}-to-{target}"

    def state(self, source: str) -> str:
        return self.run("meltano", "state", "get", self.state_id(source)).stdout.strip()

    # --- data ------------------------------------------------------------------------------------
    def seed(self, orders: int, days: int = 30) -> None:
        generate.seed(self.shop_url, self.marketing, orders, generate.date(2026, 1, 1), days)

    def next_day(self, new_pct: float = 1.0):
        return generate.next_day(self.shop_url, self.marketing, new_pct)

    def execute(self, sql: str, params: tuple | None = None) -> None:
        with psycopg.connect(self.shop_url, autocommit=True) as conn:
            conn.execute(sql, params)

    def source(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.shop_url) as conn:
            return conn.execute(sql, params).fetchall()

    def warehouse_query(self, database: str, sql: str) -> list[tuple]:
        """Query raw_<source>.duckdb or analytics.duckdb read-only; the file is closed afterwards."""
        path = self.warehouse / f"{database}.duckdb"
        assert path.exists(), f"{path} does not exist"
        with duckdb.connect(str(path), read_only=True) as conn:
            return conn.execute(sql).fetchall()
