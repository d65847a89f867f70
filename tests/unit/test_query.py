"""`make query` is read-only for real: no writes, no other files, no shell between the SQL and DuckDB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO

QUERY = REPO / "tools" / "query.py"


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    wh = tmp_path / "warehouse"
    wh.mkdir()
    for name, sql in (
        ("analytics", "create table revenue_daily as select 1 as orders_count"),
        ("raw_shop", "create schema shop; create table shop.orders as select 42 as id"),
    ):
        with duckdb.connect(str(wh / f"{name}.duckdb")) as conn:
            conn.execute(sql)
    return wh


def run(warehouse: Path, sql: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "BATON_WAREHOUSE_DIR": str(warehouse), "BATON_QUERY_SQL": sql}
    return subprocess.run([sys.executable, str(QUERY)], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_reads_every_file(warehouse: Path, tmp_path: Path) -> None:
    out = run(warehouse, "select orders_count, (select id from raw_shop.shop.orders) from revenue_daily", tmp_path)
    assert out.returncode == 0, out.stderr
    assert "42" in out.stdout
    counts = run(warehouse, "", tmp_path)
    assert counts.returncode == 0 and "raw_shop" in counts.stdout and "revenue_daily" in counts.stdout


@pytest.mark.parametrize(
    "sql",
    [
        "copy (select 1) to '{tmp}/out.csv'",
        "attach '{tmp}/new.duckdb' as n",
        "select * from read_csv('/etc/passwd')",
        "create table t as select 1",
        "insert into raw_shop.shop.orders values (1)",
        "detach raw_shop; attach '{wh}/raw_shop.duckdb' as w; insert into w.shop.orders values (1)",
        "set enable_external_access = true",
    ],
)
def test_writes_and_other_files_are_refused(sql: str, warehouse: Path, tmp_path: Path) -> None:
    out = run(warehouse, sql.format(tmp=tmp_path, wh=warehouse), tmp_path)
    assert out.returncode == 1, out.stdout
    assert "error:" in out.stderr
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "new.duckdb").exists()
    with duckdb.connect(str(warehouse / "raw_shop.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from shop.orders").fetchone() == (1,)


def test_without_analytics_there_is_no_writable_fallback(warehouse: Path, tmp_path: Path) -> None:
    (warehouse / "analytics.duckdb").unlink()
    out = run(warehouse, "create table t as select 1", tmp_path)
    assert out.returncode == 1 and "read-only" in out.stderr
    assert run(warehouse, "select count(*) from raw_shop.shop.orders", tmp_path).returncode == 0


def test_shell_syntax_in_the_sql_is_never_run(warehouse: Path, tmp_path: Path) -> None:
    sql = "select '$(touch pwned)' as a, '`touch pwned2`' as b, \"orders_count\" from revenue_daily"
    out = run(warehouse, sql, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "$(touch pwned)" in out.stdout
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


def test_the_makefile_passes_sql_through_the_environment_unexpanded(tmp_path: Path) -> None:
    # The recipe the kit's Makefile uses for `make query` (SQL exported raw, no shell in between).
    (tmp_path / "Makefile").write_text(
        "query: export BATON_QUERY_SQL = $(value SQL)\nquery:\n\t@printenv BATON_QUERY_SQL > got.txt\n"
    )
    sql = "select '$(touch pwned)', `touch pwned2`, \"x\" 'y'"
    subprocess.run(["make", "-s", "query", f"SQL={sql}"], cwd=tmp_path, check=True)
    assert (tmp_path / "got.txt").read_text().strip() == sql
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
