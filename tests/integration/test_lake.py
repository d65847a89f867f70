"""The lake warehouse (BATON_WAREHOUSE=lake) on real parts: a DuckLake whose catalog is a real Postgres
(testcontainers) and whose data is on S3 served by moto on loopback.

- the loader's own tests (types, upserts, key-less streams, NaN, the bookmark guard, atomic batches,
  SIGKILL mid-load) run again against the lake;
- the ingestion jobs (load + reconciliation) and dbt (domains and the monolith) on it, counts exact;
- two sources load and a domain builds at the same time, with no pool: all green, counts exact;
- a dbt build's snapshot, `make query AT=<cycle>`'s time travel and the maintenance operation;
- a load in the jobs image with no network at all: the extensions come with the image.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest
from target_baton_duckdb import warehouse

import tests.unit.test_loader as unit_loader
from tests.conftest import REPO, free_port, image_setting, stop, unavailable
from tests.integration.conftest import pg_url
from tests.integration.datapath import DataPath
from tests.unit.loader_run import Loader

BUCKET = "baton-lake"
REGION = "eu-central-1"
ORDERS = 2500
DAYS = 30
CAMPAIGNS = 5
MOTO_SERVER = Path(os.environ.get("BATON_CLOUD_VENV", REPO / ".venvs" / "cloud")) / "bin" / "moto_server"


# --- the lake's services --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 on loopback, with the lake's bucket."""
    if not MOTO_SERVER.exists():
        unavailable(f"{MOTO_SERVER} is missing: run `make cloud-tools` (moto's server serves S3 to the lake tests)")
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    proc = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=REGION,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
            break
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not answer on port {port}", pytrace=False)
            time.sleep(0.3)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="session")
def catalog_socket(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("catalog-socket")
    folder.chmod(0o777)
    return folder


@pytest.fixture(scope="session")
def catalog_pg(postgres_image: str, catalog_socket: Path):
    """The Postgres server of the lake's catalog (each test gets its own catalog database); its Unix socket
    folder is on this machine too, for a job container with no network."""
    from testcontainers.community.postgres import PostgresContainer

    pg = PostgresContainer(postgres_image, username="lake", password="lake-pw", dbname="postgres")
    pg.with_volume_mapping(str(catalog_socket), "/var/run/postgresql", "rw")
    with pg:
        yield pg


@pytest.fixture(scope="session")
def extension_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("duckdb-extensions"))


@pytest.fixture
def lake_env(catalog_pg, s3_endpoint: str, extension_dir: str) -> dict[str, str]:
    """Settings of a lake of its own: a catalog database that does not exist yet (created at first use)
    and a fresh S3 prefix."""
    name = uuid.uuid4().hex[:10]
    return {
        "BATON_WAREHOUSE": "lake",
        "BATON_LAKE_CATALOG": pg_url(catalog_pg, f"lake_{name}"),
        "BATON_LAKE_DATA_PATH": f"s3://{BUCKET}/{name}",
        "BATON_LAKE_S3_ENDPOINT": s3_endpoint,
        "BATON_LAKE_S3_URL_STYLE": "path",
        "BATON_LAKE_S3_USE_SSL": "false",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "BATON_DUCKDB_EXTENSION_DIR": extension_dir,
    }


def lake_query(env: dict[str, str], database: str, sql: str, snapshot: int | None = None) -> list[tuple]:
    settings = warehouse.Settings.from_env(env)
    snapshots = {database: snapshot} if snapshot is not None else None
    with warehouse.connect_reader([database], settings=settings, snapshots=snapshots) as conn:
        conn.execute("set TimeZone = 'UTC'")
        return conn.execute(sql).fetchall()


def s3_objects(env: dict[str, str]) -> list[str]:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{env['BATON_LAKE_S3_ENDPOINT']}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=REGION,
    )
    prefix = env["BATON_LAKE_DATA_PATH"].removeprefix(f"s3://{BUCKET}/") + "/"
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_drop_deletes_a_lake_its_files_and_its_catalog_schema(lake_env: dict[str, str]) -> None:
    """`baton-job warehouse drop raw_shop` in lake mode (what `make seed` runs): the lake's Parquet files
    on S3 and its metadata schema go, another lake stays, and the next load makes the lake anew."""
    settings = warehouse.Settings.from_env(lake_env)
    for name in ("raw_shop", "raw_marketing"):
        with warehouse.connect(name, settings=settings) as conn:
            conn.execute("create schema if not exists shop")
            conn.execute("create table shop.orders as select range as order_id from range(1000)")
    assert any("/raw_shop/" in key for key in s3_objects(lake_env))

    out = subprocess.run(
        [sys.executable, "-m", "target_baton_duckdb.warehouse", "drop", "raw_shop"],
        env={**os.environ, **lake_env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "dropped the lake raw_shop: 1 table(s)" in out, out
    assert not [key for key in s3_objects(lake_env) if "/raw_shop/" in key]
    assert any("/raw_marketing/" in key for key in s3_objects(lake_env))
    with duckdb.connect() as conn:
        warehouse.prepare_lake(conn, settings)
        assert warehouse.lake_databases(conn, settings) == ["raw_marketing"]
    assert lake_query(lake_env, "raw_marketing", "select count(*) from shop.orders") == [(1000,)]
    with warehouse.connect("raw_shop", settings=settings) as conn:  # made anew, empty
        conn.execute("create schema if not exists shop")
        conn.execute("create table shop.orders as select 1 as order_id")
    assert lake_query(lake_env, "raw_shop", "select count(*) from shop.orders") == [(1,)]


# --- the loader's tests, against the lake ---------------------------------------------------------
class LakeLoader(Loader):
    """The loader's test harness, its database a lake (named by the path's stem, `raw`)."""

    def __init__(self, work: Path, env: dict[str, str], **config):
        super().__init__(work, **config)
        self.env = env

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        settings = warehouse.Settings.from_env(self.env)
        with warehouse.connect_reader(["raw"], settings=settings) as conn:
            conn.execute("set TimeZone = 'UTC'")
            return conn.execute(sql, params or []).fetchall()


@pytest.fixture
def loader(tmp_path: Path, lake_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> LakeLoader:
    for key, value in lake_env.items():
        monkeypatch.setenv(key, value)  # the loader process inherits them
    return LakeLoader(tmp_path, lake_env)


# Tests of tests/unit/test_loader.py, collected here with the lake `loader` above (row counts over many
# batches and the COPY files are covered by the data path tests below).
test_lake_loader_types = unit_loader.test_types_are_the_declared_ones
test_lake_loader_upsert = unit_loader.test_upsert_by_key_rewrites_only_changed_rows
test_lake_loader_keyless = unit_loader.test_a_table_without_keys_equals_the_source_every_day
test_lake_loader_non_finite = unit_loader.test_a_non_finite_number_fails_naming_stream_key_and_column
test_lake_loader_future_bookmarks = unit_loader.test_future_bookmarks_are_clamped_with_a_warning
test_lake_loader_failed_batch_keeps_the_table = unit_loader.test_batch_csv_with_nan_fails_and_keeps_the_table
test_lake_loader_sigkill = unit_loader.test_sigkill_mid_stream_then_rerun_from_the_last_state_loses_nothing


# --- the data path on the lake --------------------------------------------------------------------
@pytest.fixture
def dp(shop_db, meltano_db, tmp_path: Path, lake_env: dict[str, str]) -> DataPath:
    return DataPath.fresh(shop_db, meltano_db, tmp_path, ORDERS, DAYS, extra_env=lake_env)


def _snapshot_result(output: str) -> dict:
    lines = [line for line in output.splitlines() if "BATON_RESULT: " in line]
    assert lines, f"no BATON_RESULT line in the dbt output:\n{output[-3000:]}"
    return json.loads(lines[-1].split("BATON_RESULT: ", 1)[1])


def _query_tool(env: dict[str, str], sql: str, at: str = "") -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "BATON_QUERY_SQL": sql, "BATON_QUERY_AT": at}
    # The environment the jobs image runs it with (images/jobs/entrypoint.sh): the loader's.
    python = REPO / "meltano" / ".meltano" / "loaders" / "target-baton-duckdb" / "venv" / "bin" / "python"
    return subprocess.run(
        [str(python), str(REPO / "tools" / "query.py")], env=full, capture_output=True, text=True, timeout=120
    )


def test_jobs_domains_monolith_and_time_travel_on_the_lake(dp: DataPath, lake_env: dict[str, str]) -> None:
    for source in ("shop", "marketing"):
        result = dp.job_result(dp.job(source))
        assert result["ok"], result
        for stream, figures in result["reconciled"].items():
            assert figures["raw"] == figures["expected"], (stream, figures)
    (source_orders,) = dp.source("select count(*) from shop.orders")[0]
    assert lake_query(lake_env, "raw_shop", "select count(*) from shop.orders") == [(source_orders,)]
    assert lake_query(lake_env, "raw_marketing", "select count(*) from marketing.ad_spend") == [(DAYS * CAMPAIGNS,)]

    env = {**lake_env, "BATON_CYCLE_ID": "2026-01-30"}
    dp.extra_env = env
    finance = _snapshot_result(dp.run("dbt", "build", "--select", "+tag:finance").stdout)
    assert finance["cycle_id"] == "2026-01-30" and finance["snapshot_id"] > 0
    # The cycle's last build: its snapshot is what `AT=<cycle>` reads.
    first = _snapshot_result(dp.run("dbt", "build", "--select", "+tag:marketing").stdout)
    assert first["cycle_id"] == "2026-01-30" and first["snapshot_id"] > finance["snapshot_id"]
    (mart_orders,) = lake_query(lake_env, "analytics", "select sum(orders_count) from main.revenue_daily")[0]
    assert mart_orders == source_orders == ORDERS
    (campaigns, attributed) = lake_query(
        lake_env, "analytics", "select count(*), sum(orders_count) from main.campaign_performance"
    )[0]
    (source_attributed,) = dp.source("select count(*) from shop.orders where campaign_key is not null")[0]
    assert (campaigns, attributed) == (CAMPAIGNS, source_attributed)
    assert any(key.endswith(".parquet") for key in s3_objects(lake_env)), "no Parquet file on S3"

    # The next day, loaded and built as the monolith (`dbt build`) under the next cycle.
    dp.next_day(new_pct=4)
    dp.extra_env = lake_env
    for source in ("shop", "marketing"):
        assert dp.job_result(dp.job(source))["ok"]
    dp.extra_env = {**lake_env, "BATON_CYCLE_ID": "2026-01-31"}
    second = _snapshot_result(dp.run("dbt", "build").stdout)
    assert second["snapshot_id"] > first["snapshot_id"]
    (today_orders,) = dp.source("select count(*) from shop.orders")[0]
    assert today_orders == ORDERS + ORDERS * 4 // 100
    assert lake_query(lake_env, "analytics", "select sum(orders_count) from main.revenue_daily") == [(today_orders,)]
    # Each build recorded the data tests it passed (dbt/macros/changed_rows.sql); the third one tested
    # the rows loaded since the first two.
    recorded = "select count(distinct invocation_id), count(distinct test_id) from _baton.tests_passed"
    (builds, tests) = lake_query(lake_env, "analytics", recorded)[0]
    assert builds == 3 and tests > 20, (builds, tests)

    # make query: the newest marts, then the marts as the first cycle left them.
    sql = "select sum(orders_count) as n from main.revenue_daily"
    now = _query_tool(lake_env, sql)
    assert now.returncode == 0, now.stderr
    assert str(today_orders) in now.stdout
    then = _query_tool(lake_env, sql, at="2026-01-30")
    assert then.returncode == 0, then.stderr
    assert str(ORDERS) in then.stdout and str(today_orders) not in then.stdout
    assert f"snapshot {first['snapshot_id']}" in then.stderr
    unknown = _query_tool(lake_env, sql, at="1999-01-01")
    assert unknown.returncode == 1 and "no dbt build of cycle '1999-01-01'" in unknown.stderr
    # Read-only: a write through the query tool is refused.
    write = _query_tool(lake_env, "create table main.x as select 1")
    assert write.returncode == 1 and "read-only" in write.stderr

    # Maintenance: snapshots older than the retention go (made old by moving their time back), and with
    # them `AT=` that far back; the newest state stays.
    with psycopg.connect(lake_env["BATON_LAKE_CATALOG"], autocommit=True) as conn:
        conn.execute(
            "update analytics.ducklake_snapshot set snapshot_time = snapshot_time - interval '40 days' "
            "where snapshot_id <= %s",
            (first["snapshot_id"],),
        )
    maintained = dp.run("dbt", "run-operation", "lake_maintenance", "--args", "{retention_days: 30}")
    match = re.search(r"lake analytics: (\d+) snapshot\(s\) older than 30 days expired", maintained.stdout)
    assert match and int(match.group(1)) > 0, maintained.stdout[-3000:]
    assert "lake raw_shop:" in maintained.stdout and "lake raw_marketing:" in maintained.stdout
    gone = _query_tool(lake_env, sql, at=str(first["snapshot_id"]))
    assert gone.returncode == 1, gone.stdout
    assert lake_query(lake_env, "analytics", "select sum(orders_count) from main.revenue_daily") == [(today_orders,)]


def test_two_sources_load_while_a_domain_builds(dp: DataPath, lake_env: dict[str, str]) -> None:
    """No pool: both loads and the finance build run at once; each commits, and the build reads one snapshot."""
    for source in ("shop", "marketing"):
        assert dp.job_result(dp.job(source))["ok"]
    dp.next_day(new_pct=10)

    def start_job(source: str) -> subprocess.Popen[str]:
        cmd = [str(REPO / ".venvs" / "meltano" / "bin" / "python"), str(REPO / "meltano" / "bin" / "el.py"), source]
        env = {**dp.env(), "BATON_MELTANO_BIN": str(REPO / ".venvs" / "meltano" / "bin" / "meltano")}
        return subprocess.Popen(
            cmd, cwd=REPO / "meltano", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    running = {
        "shop": start_job("shop"),
        "marketing": start_job("marketing"),
        "finance": dp.start("dbt", "build", "--select", "+tag:finance"),
    }
    outputs = {name: proc.communicate(timeout=600)[0] for name, proc in running.items()}
    for name, proc in running.items():
        assert proc.returncode == 0, f"{name} failed while running at the same time:\n{outputs[name][-4000:]}"

    (source_orders,) = dp.source("select count(*) from shop.orders")[0]
    assert lake_query(lake_env, "raw_shop", "select count(*) from shop.orders") == [(source_orders,)]
    assert lake_query(lake_env, "raw_marketing", "select count(*) from marketing.ad_spend") == [
        ((DAYS + 1) * CAMPAIGNS,)
    ]
    # The build read raw_shop at one snapshot: its marts hold exactly the orders of that snapshot.
    attached = re.search(r"attached the lake raw_shop read-only at snapshot (\d+)", outputs["finance"])
    assert attached, outputs["finance"][-3000:]
    (at_snapshot,) = lake_query(lake_env, "raw_shop", "select count(*) from shop.orders", int(attached.group(1)))[0]
    (mart_orders,) = lake_query(lake_env, "analytics", "select sum(orders_count) from main.revenue_daily")[0]
    assert mart_orders == at_snapshot
    assert at_snapshot in (ORDERS, source_orders)


def test_a_load_in_the_jobs_image_with_no_network(
    docker_client, catalog_pg, catalog_socket: Path, tmp_path: Path
) -> None:
    """Extensions come with the image: a lake load in a container without any network (the catalog reached
    through its Unix socket, the data on a folder), autoinstall off."""
    image = image_setting("BATON_JOBS_IMAGE")
    try:
        docker_client.images.get(image)
    except Exception:
        pytest.fail(f"{image} is missing: run `make jobs-image`", pytrace=False)
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)  # the job runs as its own user
    assert (catalog_socket / ".s.PGSQL.5432").exists(), "the catalog's Postgres has no Unix socket"
    name = f"lake_{uuid.uuid4().hex[:8]}"
    script = (
        "from target_baton_duckdb import warehouse\n"
        "c = warehouse.connect('raw_offline')\n"
        "c.execute('create schema if not exists shop; create table if not exists shop.t (id bigint)')\n"
        "c.execute('begin; insert into shop.t select range from range(1000); commit')\n"
        "print('rows', c.execute('select count(*) from shop.t').fetchone()[0])\n"
        "print('autoinstall', c.execute(\"select current_setting('autoinstall_known_extensions')\").fetchone()[0])\n"
    )
    run = docker_client.containers.run(
        image,
        ["/opt/baton/venvs/meltano/bin/python", "-c", script],
        network_mode="none",
        environment={
            "BATON_WAREHOUSE": "lake",
            "BATON_LAKE_CATALOG": f"host=/var/run/postgresql dbname={name} user=lake password=lake-pw",
            "BATON_LAKE_DATA_PATH": "/data/lake",
        },
        volumes={
            str(data): {"bind": "/data", "mode": "rw"},
            str(catalog_socket): {"bind": "/var/run/postgresql", "mode": "rw"},
        },
        detach=True,
    )
    try:
        status = run.wait(timeout=180)
        logs = run.logs().decode()
    finally:
        run.remove(force=True)
    assert status["StatusCode"] == 0, logs[-3000:]
    assert "rows 1000" in logs and "autoinstall False" in logs, logs[-2000:]
