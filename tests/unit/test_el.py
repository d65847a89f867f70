"""The ingestion job (meltano/bin/el.py) without services: what it reads from the job's output,
its source declarations, the reconciliation of a file source against a real DuckDB file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import el
import pytest
from baton_contract import job as contract
from baton_contract.declaration import ContractError

from tests.conftest import REPO

# The job runs in the jobs image's Meltano environment, which holds what it imports (the contract,
# the loader's warehouse connection).
MELTANO_PYTHON = REPO / ".venvs" / "meltano" / "bin" / "python"


def test_loader_reports_win_over_extractor_metrics() -> None:
    lines = [
        '2026-11-25T10:00:00 [info] METRIC: {"type": "counter", "metric": "record_count", "value": 7, '
        '"tags": {"stream": "shop-orders"}} cmd_type=elb',
        '2026-11-25T10:00:01 [info] baton-loader: {"stream": "shop-orders", "table": "shop.orders", "rows": 5, '
        '"inserted": 4, "updated": 1} cmd_type=elb consumer=True name=target-raw-shop',
    ]
    load = el.parse_output(lines)
    assert load.rows == 5 and load.read == {"shop-orders": 7}
    assert el.parse_output(lines[:1]).rows == 7
    assert el.parse_output(["nothing here"]).rows is None


@pytest.mark.parametrize("source", ["shop", "marketing"])
def test_every_source_declares_what_the_kit_derives(source: str) -> None:
    decl = el.declaration(source, REPO / "meltano")
    assert decl.kind in ("postgres", "files")
    assert decl.extractor["name"] == f"tap-{source}"
    if decl.kind == "files":
        assert decl.folders and not decl.secrets
    else:
        assert decl.secrets and not decl.folders


def test_unknown_source_and_bad_kind_are_named(tmp_path: Path) -> None:
    (tmp_path / "sources").mkdir()
    with pytest.raises(ContractError, match="no source 'nope'"):
        el.declaration("nope", tmp_path)
    (tmp_path / "sources" / "crm.meltano.yml").write_text("baton: {kind: ftp}\nplugins: {}\n")
    with pytest.raises(ContractError, match=r"crm.meltano.yml: baton.kind: .*\(got 'ftp'\)") as exc:
        el.declaration("crm", tmp_path)
    assert exc.value.code == contract.EXIT_CONFIG


def test_declared_folders_become_paths_under_the_data_folder(tmp_path: Path) -> None:
    decl = el.declaration("marketing", REPO / "meltano")
    env = el.folder_environment(decl, {"BATON_JOB_DATA_DIR": str(tmp_path)})
    assert env == {"BATON_MARKETING_DIR": str(tmp_path / "marketing")}
    assert (tmp_path / "marketing").is_dir()
    assert el.folder_environment(decl, {"BATON_MARKETING_DIR": "/elsewhere"}) == {}
    with pytest.raises(ContractError, match="BATON_JOB_DATA_DIR"):
        el.folder_environment(decl, {})


def _raw_file(path: Path, rows: list[tuple[str, str]]) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema marketing; create schema _baton")
        conn.execute("create table marketing.ad_spend (spend_date date, campaign_key varchar)")
        conn.executemany("insert into marketing.ad_spend values (?, ?)", rows)
        conn.execute(
            "create table _baton.streams (stream varchar, table_schema varchar, table_name varchar, "
            "key_properties varchar[], replication_key varchar, columns json, loaded_at timestamptz)"
        )
        conn.execute(
            "insert into _baton.streams values ('ad_spend', 'marketing', 'ad_spend', "
            "['spend_date', 'campaign_key'], null, '{}', now())"
        )


def test_file_source_reconciles_rows_and_keys_and_names_a_mismatch(tmp_path: Path, monkeypatch) -> None:
    files, warehouse = tmp_path / "files", tmp_path / "warehouse"
    files.mkdir()
    warehouse.mkdir()
    (files / "ad_spend_2026-01-01.csv").write_text(
        "spend_date,campaign_key,channel\n2026-01-01,a,email\n2026-01-01,b,email\n2026-01-01,c,email\n"
    )
    monkeypatch.setenv("BATON_MARKETING_DIR", str(files))
    monkeypatch.setenv("BATON_WAREHOUSE_DIR", str(warehouse))
    decl = el.declaration("marketing", REPO / "meltano")
    load = el.Load(rows=3, read={"ad_spend": 3}, loaded={})

    _raw_file(warehouse / "raw_marketing.duckdb", [("2026-01-01", "a"), ("2026-01-01", "b"), ("2026-01-01", "c")])
    figures = el.reconcile(decl, load)
    assert figures["ad_spend"] == {"source": 3, "source_keys": 3, "expected": 3, "raw": 3, "raw_keys": 3, "read": 3}
    assert el.mismatches(figures) == []

    # A row deleted behind the loader's back.
    (warehouse / "raw_marketing.duckdb").unlink()
    _raw_file(warehouse / "raw_marketing.duckdb", [("2026-01-01", "a"), ("2026-01-01", "b")])
    (problem,) = el.mismatches(el.reconcile(decl, load))
    assert problem.startswith("ad_spend: raw has 1 row(s) fewer than the source (2 against 3): a lost load")
    assert "`make state`" in problem

    # A row loaded twice (a re-read appended): raw has more, and the message says so.
    (warehouse / "raw_marketing.duckdb").unlink()
    rows = [("2026-01-01", "a"), ("2026-01-01", "b"), ("2026-01-01", "c"), ("2026-01-01", "c")]
    _raw_file(warehouse / "raw_marketing.duckdb", rows)
    (problem,) = el.mismatches(el.reconcile(decl, load))
    assert problem.startswith("ad_spend: raw has 1 row(s) more than the source (4 against 3): likely duplicates")
    assert "rows deleted in raw" not in problem


def test_the_loaders_schema_changes_reach_the_result() -> None:
    change = {"stream": "shop-orders", "table": "shop.orders", "column": "campaign_key", "change": "dropped",
              "from": "VARCHAR", "to": None}  # fmt: skip
    lines = [
        'baton-loader: {"stream": "shop-orders", "table": "shop.orders", "rows": 5, "inserted": 5, "updated": 0, '
        f'"schema_changes": [{json.dumps(change)}]}}',
        'baton-loader: {"stream": "shop-customers", "table": "shop.customers", "rows": 1, "inserted": 1, '
        '"updated": 0, "schema_changes": []}',
    ]
    assert el.schema_changes(el.parse_output(lines)) == [change]


def test_the_result_line_is_the_last_line_and_names_the_failure(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(el, "PROJECT", tmp_path)
    (tmp_path / "sources").mkdir()
    assert el.main(["nope"]) == contract.EXIT_CONFIG
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(contract.RESULT_PREFIX)
    result = json.loads(last.removeprefix(contract.RESULT_PREFIX))
    assert result["ok"] is False and "no source 'nope'" in result["error"]


def _fake_meltano(tmp_path: Path, body: str) -> Path:
    fake = tmp_path / "meltano"
    fake.write_text(f"#!{sys.executable}\nimport signal, sys, time\n{body}\n")
    fake.chmod(0o755)
    return fake


def _el(fake: Path, source: str = "shop") -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "MELTANO_DATABASE_URI"}  # no system database: no lock
    return subprocess.Popen(
        [str(MELTANO_PYTHON), str(REPO / "meltano" / "bin" / "el.py"), source],
        env={**env, "BATON_MELTANO_BIN": str(fake)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigterm_is_passed_to_meltano_and_the_job_exits_75(tmp_path: Path) -> None:
    fake = _fake_meltano(
        tmp_path,
        "def stop(*_):\n"
        "    print('meltano: SIGTERM received, stopping the plugins', flush=True)\n"
        "    time.sleep(0.5)\n"
        "    sys.exit(143)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('meltano: loading', flush=True)\n"
        "time.sleep(30)\n"
        "print('meltano: finished', flush=True)\n",
    )
    job = _el(fake)
    assert job.stdout is not None
    for line in job.stdout:
        if line.startswith("meltano: loading"):
            break
    t0 = time.monotonic()
    job.send_signal(signal.SIGTERM)
    out = job.stdout.read()
    code = job.wait(10)
    assert code == contract.EXIT_STOPPED == 75, out
    assert time.monotonic() - t0 < 5
    assert "meltano: SIGTERM received" in out and "meltano: finished" not in out
    assert "attempt 2" not in out, "a stopped load must not be retried in the job"
    result = json.loads(out.strip().splitlines()[-1].removeprefix(contract.RESULT_PREFIX))
    assert result["ok"] is False and "stopped by SIGTERM" in result["error"]


def test_a_failed_load_is_retried_only_on_a_transient_fault(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(el, "RETRY_DELAYS", (0, 0))
    tries = tmp_path / "tries"
    fake = _fake_meltano(
        tmp_path,
        f"p = {str(tries)!r}\n"
        "import os\n"
        "n = len(open(p).read()) if os.path.exists(p) else 0\n"
        "open(p, 'a').write('x')\n"
        "print('psycopg.OperationalError: connection refused' if n < 1 else 'loaded', flush=True)\n"
        "sys.exit(1 if n < 1 else 0)\n",
    )
    monkeypatch.setattr(el, "MELTANO", str(fake))
    monkeypatch.setattr(el, "PROJECT", tmp_path)
    assert el.run_meltano("shop").rows is None
    assert tries.read_text() == "xx"
    fake.write_text(f"#!{sys.executable}\nprint('Extractor failed: relation does not exist')\nraise SystemExit(1)\n")
    with pytest.raises(ContractError, match="failed on its data") as failed:
        el.run_meltano("shop")
    assert failed.value.code == contract.EXIT_DATA


def test_an_out_of_memory_kill_names_the_limit_and_the_setting(monkeypatch) -> None:
    monkeypatch.setenv("BATON_DUCKDB_MEMORY_LIMIT", "1536MB")
    error = el.out_of_memory("shop", 2 * 2**30)
    assert error.code == contract.EXIT_CONFIG  # final: the same limit would run out again
    assert "ingestion job of shop ran out of memory (limit 2048 MiB; DuckDB's memory_limit 1536MB)" in str(error)
    assert "BATON_JOB_MEMORY" in str(error)


def test_the_kept_catalog_fingerprint_follows_the_project_the_environment_and_the_code(tmp_path: Path) -> None:
    import shutil

    import catalog_cache
    from baton_contract.declaration import declaration

    project = tmp_path / "meltano"
    shutil.copytree(REPO / "meltano", project, ignore=shutil.ignore_patterns(".meltano", "__pycache__"))
    decl = declaration("shop", project)
    env = {"BATON_SHOP_DB_URL": "postgresql://a@h/shop", "MELTANO_ENVIRONMENT": "dev", "HOSTNAME": "job-1"}
    base = catalog_cache.project_fingerprint(decl, project, env)
    assert catalog_cache.project_fingerprint(decl, project, {**env, "HOSTNAME": "job-2"}) == base
    changed = [
        {**env, "TAP_SHOP__SELECT": '["shop-orders.*"]'},  # the extractor's own settings
        {**env, "TAP_BATON_POSTGRES_EXPORT_MODE": "records"},  # its parent's
        {**env, "BATON_SHOP_DB_URL": "postgresql://a@h/other"},  # a variable the source file refers to
        {**env, "MELTANO_ENVIRONMENT": "prod"},
    ]
    assert all(catalog_cache.project_fingerprint(decl, project, e) != base for e in changed)
    source = project / "sources" / "shop.meltano.yml"
    source.write_text(source.read_text().replace("shop-products.*", "shop-products.name"))
    assert catalog_cache.project_fingerprint(decl, project, env) != base
    code = next(project.glob("packages/tap-baton-postgres/**/streams.py"))
    before = catalog_cache.project_fingerprint(decl, project, env)
    code.write_text(code.read_text() + "\n# changed\n")
    assert catalog_cache.project_fingerprint(decl, project, env) != before

    assert catalog_cache.catalog_variable("shop") == "TAP_SHOP__CATALOG"
    assert catalog_cache.applies(decl, env)
    assert not catalog_cache.applies(decl, {**env, "TAP_SHOP__CATALOG": "mine.json"})
    assert not catalog_cache.applies(decl, {**env, "BATON_EL_CATALOG_CACHE": "off"})
    assert not catalog_cache.applies(declaration("marketing", project), env)  # files: always discovered
