"""The warehouse setting (files or lake) and the connection every part shares (warehouse.py): settings,
DuckDB's memory settings, no extension download, files written by a newer DuckDB, and the DAGs' side
(no pool in lake mode, the snapshot in the dbt_<domain> event, the maintenance DAG)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from baton.assets import dbt_asset
from baton.config import Config, ConfigError, load_config
from baton.dbt_dags import build_dbt_dags
from baton.maintenance import build_maintenance_dag
from baton.metadata import load_manifest, load_sources
from target_baton_duckdb import warehouse

from tests.conftest import REPO


def newer_duckdb_file(path: Path) -> Path:
    """A file with the header of a database written by duckdb 2.0 (storage version 999)."""
    path.write_bytes(b"\0" * 8 + b"DUCK" + struct.pack("<Q", 999) + b"\0" * 8192)
    return path


def test_lake_settings_are_checked_and_named() -> None:
    with pytest.raises(warehouse.WarehouseError, match="BATON_WAREHOUSE='lakehouse' is not a warehouse"):
        warehouse.Settings.from_env({"BATON_WAREHOUSE": "lakehouse"})
    with pytest.raises(warehouse.WarehouseError, match="needs BATON_LAKE_CATALOG and BATON_LAKE_DATA_PATH"):
        warehouse.Settings.from_env({"BATON_WAREHOUSE": "lake"})
    assert warehouse.Settings.from_env({}).mode == "files"


def test_memory_settings_reach_duckdb_and_empty_keeps_its_defaults(tmp_path: Path) -> None:
    defaults = duckdb.connect()
    default_threads, default_memory = defaults.execute(
        "select current_setting('threads'), current_setting('memory_limit')"
    ).fetchone()
    env = {"BATON_WAREHOUSE_DIR": str(tmp_path), "BATON_DUCKDB_MEMORY_LIMIT": "", "BATON_DUCKDB_THREADS": ""}
    with warehouse.connect("analytics", settings=warehouse.Settings.from_env(env)) as conn:
        assert conn.execute("select current_setting('threads'), current_setting('memory_limit')").fetchone() == (
            default_threads,
            default_memory,
        )
        assert conn.execute("select current_setting('autoinstall_known_extensions')").fetchone() == (False,)
    env.update(BATON_DUCKDB_MEMORY_LIMIT="1GB", BATON_DUCKDB_THREADS="1", BATON_DUCKDB_TEMP_DIR=str(tmp_path / "t"))
    with warehouse.connect("analytics", settings=warehouse.Settings.from_env(env)) as conn:
        threads, memory, temp = conn.execute(
            "select current_setting('threads'), current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
    assert (threads, temp) == (1, str(tmp_path / "t"))
    assert memory.replace(" ", "") in ("1.0GiB", "953.6MiB")


def test_a_file_written_by_a_newer_duckdb_names_what_to_do(tmp_path: Path) -> None:
    newer_duckdb_file(tmp_path / "raw_shop.duckdb")
    settings = warehouse.Settings.from_env({"BATON_WAREHOUSE_DIR": str(tmp_path)})
    for opener in (
        lambda: warehouse.connect("raw_shop", settings=settings),
        lambda: warehouse.connect_reader(["raw_shop"], settings=settings),
    ):
        with pytest.raises(warehouse.WarehouseError) as failed:
            opener()
        message = str(failed.value)
        assert "raw_shop.duckdb was written by a newer DuckDB (storage version 999)" in message
        assert "make reset CONFIRM=yes" in message and "EXPORT DATABASE" in message and "IMPORT DATABASE" in message
    # make query says the same, and exits 1.
    env = {**os.environ, "BATON_WAREHOUSE_DIR": str(tmp_path), "BATON_QUERY_SQL": "select 1"}
    env.pop("BATON_WAREHOUSE", None)
    out = subprocess.run(
        [sys.executable, str(REPO / "tools" / "query.py")], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1 and "make reset CONFIRM=yes" in out.stderr


def test_drop_deletes_a_raw_database_and_keeps_the_others(tmp_path: Path) -> None:
    """`baton-job warehouse drop` in files mode (what `make seed` runs): the file and its write-ahead
    log go, the other databases stay; a database that does not exist is not an error."""
    for name in ("raw_shop", "raw_marketing"):
        with duckdb.connect(str(tmp_path / f"{name}.duckdb")) as conn:
            conn.execute("create table t as select 1 as x")
    (tmp_path / "raw_shop.duckdb.wal").write_bytes(b"")
    env = {**os.environ, "BATON_WAREHOUSE": "files", "BATON_WAREHOUSE_DIR": str(tmp_path)}

    def drop(*names: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "target_baton_duckdb.warehouse", "drop", *names]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=True)

    out = drop("raw_shop").stdout
    assert f"deleted {tmp_path / 'raw_shop.duckdb'}" in out and "raw_shop.duckdb.wal" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw_marketing.duckdb"]
    assert "nothing to delete: no raw_shop in the warehouse" in drop("raw_shop").stdout
    with pytest.raises(warehouse.WarehouseError, match=r"not a warehouse database name: '\.\./raw_marketing'"):
        warehouse.drop(["../raw_marketing"], warehouse.Settings.from_env(env))
    assert (tmp_path / "raw_marketing.duckdb").exists()


def test_writers_of_a_file_take_turns_and_a_killed_one_lets_go(tmp_path: Path) -> None:
    """warehouse.take_writer_turn (the dbt plugin takes it before dbt opens analytics.duckdb): a second
    process waits for the turn, naming who holds it, and gets it when the holder lets go; a holder
    killed with SIGKILL lets go as well (the kernel drops its lock)."""
    file = tmp_path / "analytics.duckdb"
    take = (
        "import sys; from pathlib import Path; from target_baton_duckdb.warehouse import take_writer_turn; "
        "turn = take_writer_turn(Path(sys.argv[1])); print('turn', flush=True); sys.stdin.read()"
    )
    held = warehouse.take_writer_turn(file)
    assert held is not None and f"pid {os.getpid()}" in (tmp_path / "analytics.duckdb.lock").read_text()
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    waiter = subprocess.Popen([sys.executable, "-c", take, str(file)], **pipes, text=True)
    said = waiter.stderr.readline()
    assert "analytics.duckdb is being written by" in said and f"pid {os.getpid()}" in said, said
    assert "waiting for its turn" in said
    held.close()
    assert waiter.stdout.readline() == "turn\n"
    assert "this writer's turn, after" in waiter.stderr.readline()

    said_by_me: list[str] = []
    waiter.kill()  # holding the turn
    waiter.wait(timeout=30)
    again = warehouse.take_writer_turn(file, say=said_by_me.append)
    assert again is not None and said_by_me == []
    again.close()


def test_s3_credentials_come_from_the_key_or_the_task_role() -> None:
    base = {"BATON_WAREHOUSE": "lake", "BATON_LAKE_CATALOG": "dbname=lake", "BATON_LAKE_DATA_PATH": "s3://b/lake"}
    keyed = warehouse.s3_secret_sql(
        warehouse.Settings.from_env({**base, "AWS_ACCESS_KEY_ID": "k", "AWS_REGION": "eu-central-1"})
    )
    assert "PROVIDER config" in keyed and "KEY_ID 'k'" in keyed and "REGION 'eu-central-1'" in keyed
    role = warehouse.s3_secret_sql(warehouse.Settings.from_env(base))
    assert "PROVIDER credential_chain" in role and "KEY_ID" not in role
    assert warehouse.redact("postgresql://lake:s3cret@db:5432/lake") == "postgresql://lake:***@db:5432/lake"
    assert "s3cret" not in warehouse.redact("host=db password=s3cret dbname=lake")


def _config(**overrides) -> Config:
    base = load_config(environ={"BATON_RUNNER": "subprocess"})
    return Config(**{**base.__dict__, **overrides})


def _dbt_dags(config: Config) -> dict:
    dags = build_dbt_dags(config, load_manifest(config.metadata_dir), load_sources(config.metadata_dir))
    return {d.dag_id: d for d in dags}


def test_lake_mode_builds_take_no_pool_and_publish_the_snapshot() -> None:
    assert load_config(environ={"BATON_RUNNER": "subprocess"}).warehouse == "files"  # settings.env
    with pytest.raises(ConfigError, match="BATON_WAREHOUSE"):
        load_config(environ={"BATON_RUNNER": "subprocess", "BATON_WAREHOUSE": "both"})
    files = _dbt_dags(_config(warehouse="files"))["dbt_finance"].get_task("build")
    lake = _dbt_dags(_config(warehouse="lake", warehouse_pool=None))["dbt_finance"].get_task("build")
    assert files.pool == "baton_warehouse"
    assert lake.pool == "default_pool"

    class Ti:
        def xcom_pull(self, task_ids: str, key: str) -> str:
            return "2026-11-28"

    event = type("Event", (), {"extra": None})()
    context = {"ti": Ti(), "outlet_events": {dbt_asset("finance"): event}}
    lake._post_execute_hook(context, {"snapshot_id": 42, "cycle_id": "2026-11-28"})
    assert event.extra == {"cycle_id": "2026-11-28", "snapshot_id": 42}
    files._post_execute_hook(context, None)
    assert event.extra == {"cycle_id": "2026-11-28"}


def test_the_maintenance_dag_keeps_the_retention_and_runs_only_for_the_lake() -> None:
    assert load_config(environ={}).lake_retention_days == 30
    with pytest.raises(ConfigError, match="BATON_LAKE_RETENTION_DAYS"):
        load_config(environ={"BATON_LAKE_RETENTION_DAYS": "0"})
    lake = build_maintenance_dag(_config(warehouse="lake", lake_retention_days=7))
    assert lake.schedule == "0 6 * * *"
    (task,) = lake.tasks
    assert task.command == ["dbt", "run-operation", "lake_maintenance", "--args", '{"retention_days": 7}']
    assert build_maintenance_dag(_config(warehouse="files")).schedule is None
