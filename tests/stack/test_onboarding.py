"""Onboarding and offboarding, as a client team does it: in a scratch copy of the kit, scaffold a
file source with `make add-source`, add a domain that reads it, `make up` (its own compose project
and images, named after the copy's folder), and see the new ingestion and domain DAGs succeed with
raw = source. Then take them away again: the domain's files by hand and `make up` (which deletes
its DAG and unpauses nothing of it), the source with `make remove-source` on the running stack
(which deletes its DAG), and the next `make run` is green without waiting on either.

Nothing else is edited: no compose, runner, Terraform or dbt_project staging tags.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, setting
from tests.containers import docker_engine, remove_compose_project
from tests.stack.conftest import copy_checkout, report, scratch_env
from tools.batonctl import Airflow

pytestmark = pytest.mark.timeout(2400)

AIRFLOW_PORT = int(os.environ.get("BATON_ONBOARDING_AIRFLOW_PORT", "18280"))
SHOP_PORT = int(os.environ.get("BATON_ONBOARDING_SHOP_PORT", "15633"))
SALES_TAG = "      sales:\n        +tags: [sales]\n"
CONTACTS_PER_FILE, FILES = 120, 3

MART = """\
with

contacts as (

    select * from {{ ref('stg_contacts') }}

),

final as (

    select
        country,
        count(*) as contacts_count

    from contacts
    group by country

)

select * from final
"""


def _write_contacts(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    countries = ["DE", "FR", "NL", "PL"]
    n = 0
    for f in range(FILES):
        with (folder / f"contacts_2026-01-0{f + 1}.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["contact_id", "full_name", "country"])
            for _ in range(CONTACTS_PER_FILE):
                n += 1
                writer.writerow([f"c{n:05d}", f"Contact {n}", countries[n % len(countries)]])
    return n


@pytest.fixture(scope="module")
def kit() -> Iterator[tuple[Path, dict[str, str]]]:
    root = REPO / ".baton" / "onboarding"
    copy = root / "client-crm"
    # The copy's own project, env file, data folder and images (baton/jobs:client-crm), from its folder.
    env = scratch_env(BATON_AIRFLOW_PORT=str(AIRFLOW_PORT), BATON_SHOP_PORT=str(SHOP_PORT))
    if (copy / "compose" / ".env").exists():
        subprocess.run(["make", "reset", "CONFIRM=yes"], cwd=copy, env=env, capture_output=True)
    remove_compose_project(docker_engine(), "client-crm")
    shutil.rmtree(root, ignore_errors=True)
    copy_checkout(copy)
    try:
        yield copy, env
    finally:
        subprocess.run(["make", "reset", "CONFIRM=yes"], cwd=copy, env=env, capture_output=True)


def _airflow(copy: Path) -> Airflow:
    password = next(
        line.split("=", 1)[1]
        for line in (copy / "compose" / ".env").read_text().splitlines()
        if line.startswith("BATON_AIRFLOW_PASSWORD=")
    )
    return Airflow(f"http://127.0.0.1:{AIRFLOW_PORT}", setting("BATON_AIRFLOW_USER"), password)


def _make(copy: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["make", *args], cwd=copy, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"make {' '.join(args)}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_a_new_file_source_and_domain_run_by_config_alone(kit: tuple[Path, dict[str, str]]) -> None:
    copy, env = kit

    def make(*args: str) -> subprocess.CompletedProcess[str]:
        return _make(copy, env, *args)

    scaffold = make("add-source", "NAME=crm", "KIND=files", "ENTITY=contacts", "KEY=contact_id")
    assert "Next steps" in scaffold.stdout
    (copy / "dbt" / "models" / "marts" / "sales").mkdir(parents=True)
    (copy / "dbt" / "models" / "marts" / "sales" / "contacts_by_country.sql").write_text(MART)
    project = copy / "dbt" / "dbt_project.yml"
    project.write_text(
        project.read_text().replace(
            "      marketing:\n        +tags: [marketing]\n",
            "      marketing:\n        +tags: [marketing]\n" + SALES_TAG,
        )
    )
    contacts = _write_contacts(copy / ".baton" / "data" / "crm")

    make("up")
    # The compose project comes from the copy's folder: this stack is apart from any other, and so
    # are the images it runs.
    assert "BATON_PROJECT=client-crm" in (copy / "compose" / ".env").read_text()
    running = subprocess.run(
        ["docker", "ps", "--filter", "label=com.docker.compose.project=client-crm", "--format", "{{.Image}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert running and set(running) <= {
        f"{setting('BATON_AIRFLOW_REPOSITORY')}:client-crm",
        setting("BATON_POSTGRES_IMAGE"),
    }, running
    airflow = _airflow(copy)
    for dag_id in ("ingest_crm", "dbt_sales"):
        runs = airflow.runs(dag_id, limit=1, order_by="-run_after")
        assert runs and runs[0]["state"] == "success", f"{dag_id}: {runs}"
    events = airflow.asset_events(source_dag_id="ingest_crm")
    reconciled = events[-1]["extra"]["reconciled"]["contacts"]
    assert reconciled["source"] == reconciled["raw"] == contacts, reconciled

    warehouse = copy / ".baton" / "data" / "warehouse"
    with duckdb.connect(str(warehouse / "raw_crm.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*), count(distinct contact_id) from crm.contacts").fetchone() == (
            contacts,
            contacts,
        )
    with duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True) as conn:
        assert conn.execute("select sum(contacts_count) from main.contacts_by_country").fetchone()[0] == contacts


def test_a_removed_domain_and_source_leave_no_dag_and_the_next_cycle_does_not_wait(
    kit: tuple[Path, dict[str, str]],
) -> None:
    copy, env = kit
    airflow = _airflow(copy)
    assert {"ingest_crm", "dbt_sales"} <= {d["dag_id"] for d in airflow.dags()}, "the first test sets them up"

    # The domain, by hand: its folder and its tag. `make up` rebuilds, deletes its DAG (runs and
    # all) and unpauses nothing of it.
    shutil.rmtree(copy / "dbt" / "models" / "marts" / "sales")
    project = copy / "dbt" / "dbt_project.yml"
    project.write_text(project.read_text().replace(SALES_TAG, ""))
    up = _make(copy, env, "up")
    assert "DAGs no longer defined: dbt_sales" in up.stdout, up.stdout[-3000:]
    unpaused = next(line for line in up.stdout.splitlines() if "DAGs unpaused" in line)
    assert "dbt_sales" not in unpaused and "ingest_crm" in unpaused
    assert "dbt_sales" not in {d["dag_id"] for d in airflow.dags(stale=True)}

    # The source, on the running stack: its files and its DAG.
    removed = _make(copy, env, "remove-source", "NAME=crm")
    assert "DAGs no longer defined: ingest_crm" in removed.stdout, removed.stdout[-3000:]
    assert not (copy / "meltano" / "sources" / "crm.meltano.yml").exists()
    assert not (copy / "dbt" / "models" / "staging" / "crm").exists()
    dags = {d["dag_id"] for d in airflow.dags(stale=True)}
    assert not dags & {"ingest_crm", "dbt_sales"}, dags
    assert {"ingest_shop", "ingest_marketing", "dbt_finance", "dbt_marketing"} <= dags

    # The next cycle runs what is left, green (make run exits 1 otherwise), and waits on nothing gone.
    since = datetime.now(UTC)
    run = _make(copy, env, "run")
    took = (datetime.now(UTC) - since).total_seconds()
    assert "ingest_crm" not in run.stdout and "dbt_sales" not in run.stdout, run.stdout[-3000:]
    for dag_id in ("ingest_shop", "ingest_marketing", "dbt_finance", "dbt_marketing"):
        latest = airflow.runs(dag_id, limit=1, order_by="-run_after")[0]
        assert latest["state"] == "success" and datetime.fromisoformat(latest["run_after"]) >= since, latest
    report(f"offboarding: the cycle after a source and a domain were removed took {took:.0f}s (make run)")
    assert took < 600, f"make run took {took:.0f}s after the removal"
