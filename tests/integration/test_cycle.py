"""The whole cycle through dag.test() with the subprocess runner: real Meltano and dbt against
testcontainers Postgres, DAGs run in dependency order, asset events and their extras asserted.

dag.test() runs one DAG run at a time and creates no asset-triggered runs, so each test runs the
DAGs in the order the scheduler would start them; the gates read the newest events and the raw
assets' ingestion state as they would in the stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pendulum
import pytest
from baton.config import Config, load_config
from baton.cycle import build_cycle_dag
from baton.dbt_dags import build_dbt_dags
from baton.ingestion import build_ingestion_dag
from baton.metadata import load_manifest, load_sources

from samples.generate import write_ad_spend
from tests.integration.datapath import DBT, MELTANO, DataPath

ORDERS = 1500


@pytest.fixture(scope="module")
def airflow_db() -> None:
    """A fresh Airflow metadata database (sqlite in AIRFLOW_HOME) for dag.test()."""
    airflow = Path(sys.executable).parent / "airflow"
    result = subprocess.run([str(airflow), "db", "reset", "--yes"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture
def cycle_env(shop_db, meltano_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db) -> DataPath:
    dp = DataPath.fresh(shop_db, meltano_db, tmp_path, ORDERS, days=10)
    # What a worker with the subprocess runner has in its environment.
    for key, value in dp.env().items():
        if key.startswith(("MELTANO_", "BATON_", "DBT_")):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("BATON_MELTANO_BIN", str(MELTANO))
    monkeypatch.setenv("BATON_MELTANO_PYTHON", str(MELTANO.parent / "python"))  # runs bin/el.py, bin/state.py
    monkeypatch.setenv("BATON_DBT_BIN", str(DBT))
    return dp


def _config(**overrides) -> Config:
    base = load_config(environ={"BATON_RUNNER": "subprocess"})
    return Config(**{**base.__dict__, **overrides})


def _dags(config: Config) -> dict:
    sources = load_sources(config.metadata_dir)
    dags = [build_cycle_dag(config), *(build_ingestion_dag(s, config) for s in sources)]
    dags += build_dbt_dags(config, load_manifest(config.metadata_dir), sources)
    return {d.dag_id: d for d in dags}


def _events(asset_name: str) -> list[tuple[str, dict]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent.source_dag_id, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .filter(AssetModel.name == asset_name)
            .order_by(AssetEvent.id)
            .all()
        )
    return [(dag_id, extra) for dag_id, extra in rows]


def _run(dag, **kwargs) -> str:
    run = dag.test(**kwargs)
    return str(run.state)


def _task_states(dag_id: str) -> dict[str, str]:
    """Task states of the newest run of `dag_id`."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        run_id = (
            session.query(DagRun.run_id).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(1).scalar()
        )
        rows = session.query(TaskInstance.task_id, TaskInstance.state).filter_by(dag_id=dag_id, run_id=run_id).all()
    return {task_id: str(state) for task_id, state in rows}


def test_whole_cycle_in_dependency_order(cycle_env: DataPath) -> None:
    dags = _dags(_config(dbt_mode="multi", gating_policy="fail"))
    run_after = pendulum.datetime(2026, 11, 24, 0, 15, tz="Europe/Berlin")

    assert _run(dags["cycle"], run_after=run_after, logical_date=run_after) == "success"
    assert _events("cycle")[-1] == ("cycle", {"cycle_id": "2026-11-23"})

    for source in ("shop", "marketing"):
        assert _run(dags[f"ingest_{source}"]) == "success", source
    shop_event = _events("raw_shop")[-1]
    assert shop_event[0] == "ingest_shop"
    (source_rows,) = cycle_env.source(
        "select (select count(*) from shop.orders) + (select count(*) from shop.customers)"
        " + (select count(*) from shop.products)"
    )[0]
    assert shop_event[1]["cycle_id"] == "2026-11-23"
    assert shop_event[1]["rows"] == source_rows
    assert shop_event[1]["reconciled"]["shop-orders"]["raw"] == ORDERS
    marketing_event = _events("raw_marketing")[-1][1]
    assert (marketing_event["cycle_id"], marketing_event["rows"]) == ("2026-11-23", 10 * 5)
    assert {f["raw"] for f in marketing_event["reconciled"].values()} == {10 * 5}

    for domain in ("finance", "marketing"):
        assert _run(dags[f"dbt_{domain}"]) == "success", domain
        assert _events(f"dbt_{domain}")[-1] == (f"dbt_{domain}", {"cycle_id": "2026-11-23"})

    (mart_orders,) = cycle_env.warehouse_query("analytics", "select sum(orders_count) from main.revenue_daily")[0]
    assert mart_orders == ORDERS
    (campaigns,) = cycle_env.warehouse_query("analytics", "select count(*) from main.campaign_performance")[0]
    assert campaigns == 5

    # Next cycle, but only shop lands: the marketing domain would mix two cycles and refuses
    # (gating: fail).
    assert _run(dags["cycle"], run_conf={"cycle_id": "2026-11-24"}) == "success"
    assert _run(dags["ingest_shop"]) == "success"
    assert _events("raw_shop")[-1][1]["cycle_id"] == "2026-11-24"
    assert _run(dags["dbt_marketing"]) == "failed"
    assert _task_states("dbt_marketing") == {"build": "failed"}
    assert _events("dbt_marketing")[-1][1] == {"cycle_id": "2026-11-23"}, "a refused run emitted its asset"
    # Finance reads shop only: its sources agree, it runs.
    assert _run(dags["dbt_finance"]) == "success"
    assert _events("dbt_finance")[-1][1] == {"cycle_id": "2026-11-24"}


def test_state_dag_round_trip_and_refusals(cycle_env: DataPath) -> None:
    from baton.state_dag import build_state_dag

    dag = build_state_dag(_config())
    cycle_env.el("shop")
    state_id = cycle_env.state_id("shop")
    original = json.loads(cycle_env.state("shop"))
    moved = json.loads(json.dumps(original))
    moved["singer_state"]["bookmarks"]["shop-orders"]["replication_key_value"] = "2026-01-02T00:00:00+00:00"

    assert _run(dag, run_conf={"action": "get", "state_id": state_id}) == "success"
    assert _run(dag, run_conf={"action": "set", "state_id": state_id, "state_json": moved}) == "success"
    assert json.loads(cycle_env.state("shop")) == moved
    assert _run(dag, run_conf={"action": "restore", "state_id": state_id}) == "success"
    assert json.loads(cycle_env.state("shop")) == original

    # Refused before anything changes: a state without singer_state, an unknown id.
    assert _run(dag, run_conf={"action": "set", "state_id": state_id, "state_json": {"bookmarks": {}}}) == "failed"
    assert _task_states("meltano_state") == {"validate": "failed", "apply": "upstream_failed"}
    assert _run(dag, run_conf={"action": "clear", "state_id": "ci:tap-nope-to-target-raw-nope"}) == "failed"
    assert _task_states("meltano_state") == {"validate": "success", "apply": "failed"}
    assert json.loads(cycle_env.state("shop")) == original


def _task_reason(dag_id: str) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        run_id = (
            session.query(DagRun.run_id).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(1).scalar()
        )
        value = (
            session.query(XComModel.value)
            .filter_by(dag_id=dag_id, run_id=run_id, task_id="build", key="reason")
            .scalar()
        )
    return value if value is None or isinstance(value, str) else str(value)


def test_a_source_that_failed_its_cycle_stops_its_domain_at_once_and_recovers(cycle_env: DataPath) -> None:
    dags = _dags(_config(dbt_mode="multi", gating_policy="wait"))
    assert _run(dags["cycle"], run_conf={"cycle_id": "2026-11-23"}) == "success"
    for source in ("shop", "marketing"):
        assert _run(dags[f"ingest_{source}"]) == "success", source

    marketing_built = _events("dbt_marketing")
    # Cycle D: the day's ad spend file is malformed; ingest_marketing fails (no retry: bad data).
    bad = sorted(cycle_env.marketing.glob("ad_spend_*.csv"))[-1]
    lines = bad.read_text().splitlines()
    bad.write_text("\n".join([lines[0], lines[1].rsplit(",", 1)[0] + ",not-a-number", *lines[2:]]) + "\n")
    assert _run(dags["cycle"], run_conf={"cycle_id": "2026-11-24"}) == "success"
    assert _run(dags["ingest_shop"]) == "success"
    assert _run(dags["ingest_marketing"]) == "failed"
    assert _events("raw_marketing")[-1][1]["cycle_id"] == "2026-11-23", "a failed load emitted its asset"
    # Finance reads shop only: it builds cycle D.
    assert _run(dags["dbt_finance"]) == "success"
    assert _events("dbt_finance")[-1][1] == {"cycle_id": "2026-11-24"}
    # Marketing would mix D and D-1 and marketing failed D: the gate stops at once, saying why. (The
    # policy is `wait` with baton.yml's 6-hour limit: a gate that waited would outlast the test's timeout.)
    assert _run(dags["dbt_marketing"]) == "failed"
    assert _task_states("dbt_marketing") == {"build": "failed"}
    reason = _task_reason("dbt_marketing")
    assert reason and reason.startswith("marketing did not land 2026-11-24: ingest_marketing failed"), reason
    assert _events("dbt_marketing") == marketing_built, "a stopped run emitted its asset"

    # The file is fixed (re-exported); cycle D+1: both sources land, marketing builds on D+1.
    write_ad_spend(cycle_env.marketing, __import__("datetime").date.fromisoformat(bad.stem.removeprefix("ad_spend_")))
    assert _run(dags["cycle"], run_conf={"cycle_id": "2026-11-25"}) == "success"
    for source in ("shop", "marketing"):
        assert _run(dags[f"ingest_{source}"]) == "success", source
        assert _events(f"raw_{source}")[-1][1]["cycle_id"] == "2026-11-25"
    assert _run(dags["dbt_marketing"]) == "success"
    assert _events("dbt_marketing")[-1][1] == {"cycle_id": "2026-11-25"}
    (campaigns,) = cycle_env.warehouse_query("analytics", "select count(*) from main.campaign_performance")[0]
    assert campaigns == 5
