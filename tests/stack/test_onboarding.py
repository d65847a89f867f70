"""Onboarding, as a new client team does it: in a scratch copy of the kit, scaffold a file source
with `make add-source`, add a domain that reads it, `make up` (its own compose project, named
after the copy's folder), and see the new ingestion and domain DAGs succeed with raw = source.

Nothing else is edited: no compose, runner, Terraform or dbt_project staging tags.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, setting
from tools.batonctl import Airflow

pytestmark = pytest.mark.timeout(2400)

AIRFLOW_PORT = int(os.environ.get("BATON_ONBOARDING_AIRFLOW_PORT", "18280"))
SHOP_PORT = int(os.environ.get("BATON_ONBOARDING_SHOP_PORT", "15633"))
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


def _copy_checkout(target: Path) -> None:
    """The checkout's files as git sees them (committed or not), without local state."""
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
    images_env = REPO / ".baton" / "images.env"
    if images_env.exists():  # the offline bases this machine built
        (target / ".baton").mkdir(exist_ok=True)
        shutil.copy2(images_env, target / ".baton" / "images.env")


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
    env = {
        **os.environ,
        "BATON_ENV_FILE": str(copy / "compose" / ".env"),
        "BATON_AIRFLOW_PORT": str(AIRFLOW_PORT),
        "BATON_SHOP_PORT": str(SHOP_PORT),
        "BATON_JOBS_IMAGE": "baton/jobs:onboarding",
        "BATON_AIRFLOW_IMAGE": "baton/airflow:onboarding",
    }
    env.pop("BATON_PROJECT", None)
    env.pop("BATON_DATA_DIR", None)
    if (copy / "compose" / ".env").exists():
        subprocess.run(["make", "reset", "CONFIRM=yes"], cwd=copy, env=env, capture_output=True)
    shutil.rmtree(root, ignore_errors=True)
    _copy_checkout(copy)
    try:
        yield copy, env
    finally:
        subprocess.run(["make", "reset", "CONFIRM=yes"], cwd=copy, env=env, capture_output=True)


def test_a_new_file_source_and_domain_run_by_config_alone(kit: tuple[Path, dict[str, str]]) -> None:
    copy, env = kit

    def make(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["make", *args], cwd=copy, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"make {' '.join(args)}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        return proc

    scaffold = make("add-source", "NAME=crm", "KIND=files", "ENTITY=contacts", "KEY=contact_id")
    assert "Next steps" in scaffold.stdout
    (copy / "dbt" / "models" / "marts" / "sales").mkdir(parents=True)
    (copy / "dbt" / "models" / "marts" / "sales" / "contacts_by_country.sql").write_text(MART)
    project = copy / "dbt" / "dbt_project.yml"
    project.write_text(
        project.read_text().replace(
            "      marketing:\n        +tags: [marketing]\n",
            "      marketing:\n        +tags: [marketing]\n      sales:\n        +tags: [sales]\n",
        )
    )
    contacts = _write_contacts(copy / ".baton" / "data" / "crm")

    make("up")
    # The compose project comes from the copy's folder: this stack is apart from any other.
    assert "BATON_PROJECT=client-crm" in (copy / "compose" / ".env").read_text()
    user = setting("BATON_AIRFLOW_USER")
    password = next(
        line.split("=", 1)[1]
        for line in (copy / "compose" / ".env").read_text().splitlines()
        if line.startswith("BATON_AIRFLOW_PASSWORD=")
    )
    airflow = Airflow(f"http://127.0.0.1:{AIRFLOW_PORT}", user, password)
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
