"""The jobs image itself runs the data path: `docker run` of meltano and dbt against Postgres."""

from __future__ import annotations

import json
from pathlib import Path

import docker
import pytest

from tests.conftest import image_setting
from tests.integration.conftest import bridge_url
from tests.integration.datapath import DataPath

ORDERS = 1200


@pytest.fixture(scope="session")
def jobs_image(docker_client: docker.DockerClient) -> str:
    name = image_setting("BATON_JOBS_IMAGE")
    try:
        docker_client.images.get(name)
    except docker.errors.ImageNotFound:
        pytest.fail(f"BATON_JOBS_IMAGE={name} is not built: run `make jobs-image`", pytrace=False)
    return name


def test_jobs_image_loads_and_builds(docker_client, jobs_image, shop_db, meltano_db, tmp_path: Path) -> None:
    # The image creates Meltano's system tables itself (bin/system_db.py): no migration here.
    dp = DataPath.fresh(shop_db, meltano_db, tmp_path, ORDERS, days=10, migrate=False)
    system_db = dp.meltano_url.rsplit("/", 1)[1]
    dp.warehouse.chmod(0o777)  # the image runs as its own non-root user

    # Inside the engine's bridge network the databases answer on their container addresses.
    env = {
        "MELTANO_ENVIRONMENT": "ci",
        "MELTANO_DATABASE_URI": bridge_url(meltano_db, system_db, driver="psycopg"),
        "BATON_SHOP_DB_URL": bridge_url(shop_db, "shop"),
    }
    volumes = {
        str(dp.warehouse): {"bind": "/data/warehouse", "mode": "rw"},
        str(dp.marketing): {"bind": "/data/marketing", "mode": "ro"},
    }

    def start(*command: str):
        return docker_client.containers.run(jobs_image, list(command), environment=env, volumes=volumes, detach=True)

    def finish(container, command: tuple[str, ...]) -> str:
        try:
            code = container.wait(timeout=600)["StatusCode"]
            logs = container.logs().decode()
        finally:
            container.remove(force=True)
        assert code == 0, f"{' '.join(command)} exited {code} in {jobs_image}:\n{logs[-5000:]}"
        return logs

    def job(*command: str) -> str:
        return finish(start(*command), command)

    # Both sources start together on a system database that has no schema yet, as on a first
    # cycle: the image creates it once and both loads succeed.
    # Each is the ingestion job the DAGs run: load, then reconcile; the marketing folder comes from
    # the source's declaration (/data/marketing), not from the image.
    loads = [("el", "shop"), ("el", "marketing")]
    results = {}
    for command, container in [(c, start(*c)) for c in loads]:
        last = finish(container, command).strip().splitlines()[-1]
        results[command[1]] = json.loads(last.removeprefix("BATON_RESULT: "))
    assert results["shop"]["ok"] and results["shop"]["reconciled"]["shop-orders"]["raw"] == ORDERS
    assert results["shop"]["reconciled"]["shop-orders"]["source_keys"] == ORDERS  # by its primary key
    assert results["marketing"]["reconciled"]["ad_spend"]["raw"] == 10 * 5
    build = job("dbt", "build")
    # The image parsed the project with a job's settings: the build parses only what changed.
    assert "Unable to do partial parsing" not in build, build[-3000:]
    assert "ci:tap-shop-to-target-raw-shop" in job("state", "list")

    assert dp.warehouse_query("raw_shop", "select count(*) from shop.orders")[0][0] == ORDERS
    (mart_orders,) = dp.warehouse_query("analytics", "select sum(orders_count) from main.revenue_daily")[0]
    assert mart_orders == ORDERS
    (campaigns,) = dp.warehouse_query("analytics", "select count(*) from main.campaign_performance")[0]
    assert campaigns == 5

    # A failing job's exit code reaches the caller.
    container = docker_client.containers.run(
        jobs_image, ["meltano", "run", "tap-nope", "target-raw-shop"], environment=env, volumes=volumes, detach=True
    )
    try:
        assert container.wait(timeout=300)["StatusCode"] != 0
        assert "tap-nope" in container.logs().decode()
    finally:
        container.remove(force=True)


# Each environment of the image and the modules its job imports.
JOB_MODULES = {
    "/opt/baton/venvs/meltano/bin/python": "meltano.cli",
    "/opt/baton/venvs/dbt/bin/python": "dbt.cli.main, dbt.adapters.duckdb",
    "/opt/baton/meltano/.meltano/extractors/tap-baton-postgres/venv/bin/python": "tap_baton_postgres.tap",
    "/opt/baton/meltano/.meltano/extractors/tap-spreadsheets/venv/bin/python": "tap_spreadsheets.tap",
    "/opt/baton/meltano/.meltano/loaders/target-baton-duckdb/venv/bin/python": "target_baton_duckdb.target",
}


def test_no_job_compiles_the_images_python_again(docker_client, jobs_image) -> None:
    """Every module a job imports loads from the image's bytecode. A stale .pyc (a source whose
    timestamp changed after it was compiled) is compiled again, and thrown away, by every job."""
    script = "; ".join(
        f"out=$({py} -v -c 'import {mods}' 2>&1) || echo 'import failed:' \"$out\" | tail -3; "
        'echo "$(grep -c \'bytecode is stale\' <<<"$out") $(grep -c \'^# code object from\' <<<"$out")"'
        for py, mods in JOB_MODULES.items()
    )
    out = docker_client.containers.run(jobs_image, ["bash", "-c", script], remove=True).decode()
    counts = [line.split() for line in out.splitlines()]
    assert len(counts) == len(JOB_MODULES) and all(len(c) == 2 for c in counts), out[-3000:]
    for py, (stale, loaded) in zip(JOB_MODULES, counts, strict=True):
        assert int(loaded) > 50, f"{py}: only {loaded} modules loaded from bytecode"
        assert int(stale) == 0, f"{py}: {stale} modules with stale bytecode"
