"""DAG integrity (every DAG file imports cleanly, quickly, with no subprocess) and the schedules
the design promises, in both dbt modes, and for sources and domains added by config alone."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from baton import assets
from baton.config import Config, ConfigError, load_config
from baton.dbt_dags import build_dbt_dags
from baton.gating import MixedCyclesError, decide
from baton.ingestion import build_ingestion_dag
from baton.metadata import load_manifest, load_sources
from baton.runners import rows_loaded

from tests.conftest import REPO

DAGS = REPO / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py"))

APPROVED_TAGS = {"baton", "cycle", "ingestion", "dbt", "meltano-state"}


# No heavy work at parse time: a DAG file starts no process (below), and parsed in a fresh
# interpreter it imports no runner it does not use (test_runners.py).
def _forbid(*args, **kwargs):
    raise AssertionError(f"a DAG file started a process while being parsed: {args[:1]}")


def _import(path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(subprocess, "Popen", _forbid)
    monkeypatch.setattr(subprocess, "run", _forbid)
    # Parsed afresh every time, as the dag-processor does: the DAG folder is on sys.path.
    monkeypatch.delitem(sys.modules, path.stem, raising=False)
    return importlib.import_module(path.stem)


def _dags_of(module) -> list:
    from airflow.sdk import DAG

    found = [v for v in vars(module).values() if isinstance(v, DAG)]
    for value in vars(module).values():
        if isinstance(value, list):
            found += [v for v in value if isinstance(v, DAG)]
    return found


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_cleanly(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _import(path, monkeypatch)
    dags = _dags_of(module)
    assert dags, f"{path.name} defines no DAG"
    for dag in dags:
        assert dag.owner not in ("", "airflow"), f"{dag.dag_id}: set an owner"
        assert dag.doc_md, f"{dag.dag_id}: add doc_md"
        assert not dag.catchup, f"{dag.dag_id}: catchup must be off"
        assert set(dag.tags) - APPROVED_TAGS <= {t for t in dag.tags if t.split(":")[0] in ("source", "domain")}
        assert dag.start_date.tzinfo is not None
        for t in dag.tasks:
            if t.task_id in ("extract_load", "open_cycle"):
                assert t.retries >= 2, f"{dag.dag_id}.{t.task_id}: retrying is safe, retry at least twice"
    dag_ids = [d.dag_id for d in dags]
    assert len(dag_ids) == len(set(dag_ids))


def _config(**overrides) -> Config:
    base = load_config(environ={"BATON_RUNNER": "subprocess"})
    return Config(**{**base.__dict__, **overrides})


def _schedule(dag) -> set[str]:
    return {a.name for a in dag.timetable.asset_condition.objects}


def _outlets(dag) -> set[str]:
    """Assets the DAG emits; the job task itself emits them (no extra task on the critical path)."""
    job = "extract_load" if dag.dag_id.startswith("ingest_") else "build"
    assert [t.task_id for t in dag.tasks if t.outlets] == [job]
    return {a.name for a in dag.get_task(job).outlets}


def _all_dags(config: Config) -> dict:
    sources = load_sources(config.metadata_dir)
    dags = [build_ingestion_dag(s, config) for s in sources]
    dags += build_dbt_dags(config, load_manifest(config.metadata_dir), sources)
    return {d.dag_id: d for d in dags}


def test_multi_mode_schedules_each_domain_on_the_sources_it_reads() -> None:
    dags = _all_dags(_config(dbt_mode="multi"))
    assert set(dags) == {"ingest_shop", "ingest_marketing", "dbt_finance", "dbt_marketing"}
    for source in ("shop", "marketing"):
        assert _schedule(dags[f"ingest_{source}"]) == {"cycle"}
        assert _outlets(dags[f"ingest_{source}"]) == {f"raw_{source}"}
        assert dags[f"ingest_{source}"].max_active_runs == 1
    assert _schedule(dags["dbt_finance"]) == {"raw_shop"}
    assert _schedule(dags["dbt_marketing"]) == {"raw_shop", "raw_marketing"}
    assert _outlets(dags["dbt_finance"]) == {"dbt_finance"}
    assert dags["dbt_finance"].get_task("build").command == [
        "dbt", "build", "--select", "+tag:finance", "--exclude-resource-type", "unit_test"
    ]  # fmt: skip


def test_monolith_mode_is_one_dag_on_every_source() -> None:
    dags = _all_dags(_config(dbt_mode="monolith"))
    assert {d for d in dags if d.startswith("dbt_")} == {"dbt_build"}
    assert _schedule(dags["dbt_build"]) == {"raw_shop", "raw_marketing"}
    assert _outlets(dags["dbt_build"]) == {"dbt_finance", "dbt_marketing"}
    assert dags["dbt_build"].get_task("build").command == ["dbt", "build", "--exclude-resource-type", "unit_test"]


def test_a_third_source_and_domain_need_config_only(tmp_path: Path) -> None:
    baked = _config().metadata_dir
    shutil.copytree(baked, tmp_path / "baked")
    sources = json.loads((tmp_path / "baked/sources.json").read_text())
    sources.append(
        {"name": "crm", "extractor": "tap-crm", "loader": "target-raw-crm", "kind": "postgres",
         "secrets": ["BATON_CRM_DB_URL"], "folders": {}}
    )  # fmt: skip
    (tmp_path / "baked/sources.json").write_text(json.dumps(sources))
    manifest = json.loads((tmp_path / "baked/manifest.json").read_text())
    manifest["sources"]["source.baton.crm.contacts"] = {"source_name": "crm", "resource_type": "source"}
    manifest["nodes"]["model.baton.stg_contacts"] = {
        "resource_type": "model",
        "tags": ["sales"],
        "depends_on": {"nodes": ["source.baton.crm.contacts"]},
    }
    stg_orders = next(k for k in manifest["nodes"] if k.endswith(".stg_orders"))
    manifest["nodes"]["model.baton.pipeline"] = {  # reads shop only through a ref chain
        "resource_type": "model",
        "tags": ["sales"],
        "depends_on": {"nodes": ["model.baton.stg_contacts", stg_orders]},
    }
    (tmp_path / "baked/manifest.json").write_text(json.dumps(manifest))

    dags = _all_dags(_config(metadata_dir=tmp_path / "baked"))
    assert {"ingest_crm", "dbt_sales"} <= set(dags)
    assert _schedule(dags["ingest_crm"]) == {"cycle"}
    assert _outlets(dags["ingest_crm"]) == {"raw_crm"}
    assert dags["ingest_crm"].get_task("extract_load").command == ["el", "crm"]
    # The docker runner passes the source's declared secrets to its job container, and only them.
    docker = _all_dags(_config(metadata_dir=tmp_path / "baked", runner="docker"))
    assert docker["ingest_crm"].get_task("extract_load").secrets == ("BATON_CRM_DB_URL",)
    assert docker["ingest_marketing"].get_task("extract_load").secrets == ()
    assert _schedule(dags["dbt_sales"]) == {"raw_crm", "raw_shop"}
    assert _schedule(dags["dbt_finance"]) == {"raw_shop"}


def test_a_domain_reading_an_undefined_source_is_named(tmp_path: Path) -> None:
    config = _config()
    manifest = json.loads((config.metadata_dir / "manifest.json").read_text())
    manifest["sources"]["source.baton.erp.invoices"] = {"source_name": "erp", "resource_type": "source"}
    manifest["nodes"]["model.baton.invoices"] = {
        "resource_type": "model",
        "tags": ["finance"],
        "depends_on": {"nodes": ["source.baton.erp.invoices"]},
    }
    with pytest.raises(Exception, match=r"dbt domain 'finance' reads source\(s\) \['erp'\]"):
        build_dbt_dags(config, manifest, load_sources(config.metadata_dir))


def test_gate_decisions() -> None:
    same = {"raw_shop": "2026-11-23", "raw_marketing": "2026-11-23"}
    mixed = {"raw_shop": "2026-11-23", "raw_marketing": "2026-11-22"}
    assert decide(same, "fail")[:2] == (True, "2026-11-23")
    with pytest.raises(MixedCyclesError, match="raw_marketing=2026-11-22, raw_shop=2026-11-23"):
        decide(mixed, "fail")
    assert decide(mixed, "warn")[:2] == (True, "2026-11-23")
    ready, cycle_id, message = decide(mixed, "wait")
    assert (ready, cycle_id) == (False, "2026-11-23") and "waiting for marketing" in message
    with pytest.raises(MixedCyclesError, match="raw_marketing"):
        decide({"raw_shop": "2026-11-23", "raw_marketing": None}, "warn")


def test_job_tasks_retry_quickly_with_backoff() -> None:
    config = _config()
    assert config.ingestion.retry_delay_seconds <= 15 and config.ingestion.max_retry_delay_seconds <= 60
    dags = _all_dags(config)
    for dag_id, task_id in (("ingest_shop", "extract_load"), ("dbt_finance", "build")):
        task = dags[dag_id].get_task(task_id)
        assert task.retries >= 3
        assert task.retry_delay.total_seconds() <= 15
        assert task.retry_exponential_backoff > 1
        assert task.max_retry_delay.total_seconds() <= 60
    # The gate is the build's first step: one task per domain run.
    assert [t.task_id for t in dags["dbt_finance"].tasks] == ["build"]


def test_dbt_builds_take_the_pool_named_in_the_settings() -> None:
    assert _config().warehouse_pool == "baton_warehouse"  # settings.env, reachable in a checkout
    dags = _all_dags(_config(warehouse_pool="writers"))
    assert dags["dbt_finance"].get_task("build").pool == "writers"
    assert "baton_warehouse" not in (DAGS / "baton" / "dbt_dags.py").read_text()


def test_config_errors_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"BATON_DBT_MODE.*'dbt\.mode' is 'both'"):
        load_config(environ={"BATON_DBT_MODE": "both"})
    with pytest.raises(ConfigError, match=r"BATON_RUNNER.*choose one of docker, ecs, subprocess"):
        load_config(environ={"BATON_RUNNER": "k8s"})
    bad = tmp_path / "baton.yml"
    text = (DAGS / "baton.yml").read_text()
    bad.write_text(text.replace("ingestion:\n  retries: 6", "ingestion:\n  retries: six"))
    with pytest.raises(ConfigError, match=r"baton.yml: 'ingestion.retries' must be a int"):
        load_config(bad, environ={})
    bad.write_text(text.replace("max_retry_delay_seconds: 60", "max_retry_delay_seconds: 5"))
    with pytest.raises(ConfigError, match=r"'dbt.max_retry_delay_seconds' is below"):
        load_config(bad, environ={})


def test_the_environment_overrides_baton_yml_and_is_named_when_wrong(tmp_path: Path) -> None:
    config = load_config(environ={"BATON_DBT_MODE": "monolith", "BATON_GATING": "warn", "BATON_TIMEZONE": "UTC"})
    assert (config.dbt_mode, config.gating_policy, config.timezone) == ("monolith", "warn", "UTC")
    with pytest.raises(ConfigError, match=r"environment variable BATON_GATING: 'gating.policy' is 'later'"):
        load_config(environ={"BATON_GATING": "later"})
    bad = tmp_path / "baton.yml"
    bad.write_text((DAGS / "baton.yml").read_text().replace("  policy: wait\n", "  policy: sometimes\n"))
    with pytest.raises(ConfigError, match=rf"{bad}: 'gating.policy' is 'sometimes'; choose one of wait, fail, warn"):
        load_config(bad, environ={})
    bad.write_text((DAGS / "baton.yml").read_text().replace("owner: data-platform\n", ""))
    with pytest.raises(ConfigError, match=r"baton.yml: 'owner' is missing"):
        load_config(environ={"BATON_CONFIG": str(bad)})


def test_rows_loaded_sums_the_extractors_record_counts() -> None:
    lines = [
        'tap-shop METRIC: {"type":"counter","metric":"record_count","value":1200,"tags":{"stream":"shop-orders"}}',
        'tap-shop METRIC: {"type":"timer","metric":"sync_duration","value":0.3}',
        'tap-shop METRIC: {"type":"counter","metric":"record_count","value":34,"tags":{"stream":"shop-products"}}',
        "target-raw-shop Loading 1234 rows",
    ]
    assert rows_loaded(lines) == 1234
    assert rows_loaded(["nothing here"]) is None
    assert rows_loaded(None) is None


def test_asset_names_are_defined_once() -> None:
    assert assets.raw_asset("shop").name == "raw_shop"
    assert assets.dbt_asset("finance").name == "dbt_finance"
    assert assets.cycle_asset().name == "cycle"
