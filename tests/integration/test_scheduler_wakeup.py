"""The scheduler's wake-ups (images/airflow/services.py) on a real Postgres: the triggers
baton-airflow-init installs NOTIFY a listening scheduler when a DAG run is created or a task
instance changes state, and its idle sleep ends then instead of at its end."""

from __future__ import annotations

import importlib
import sys
import threading
import time

import psycopg
import pytest

from tests.conftest import REPO
from tests.integration.conftest import pg_url


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(REPO / "images" / "airflow"))
    monkeypatch.delitem(sys.modules, "services", raising=False)
    return importlib.import_module("services")


def _params(url: str) -> dict[str, str]:
    return importlib.import_module("pgurl").libpq_params(url, "the test's database")


@pytest.fixture
def airflow_db(meltano_db, services):
    """A database with the two tables the triggers watch (their columns that matter here)."""
    url = pg_url(meltano_db, "meltano")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop database if exists wakeup")
        conn.execute("create database wakeup")
    url = pg_url(meltano_db, "wakeup")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table dag_run (id serial primary key, dag_id text)")
        conn.execute("create table task_instance (id int primary key, state text, last_heartbeat_at timestamptz)")
        conn.execute("insert into task_instance values (1, 'running', now())")
        conn.execute("create table dag (dag_id text primary key, is_paused boolean not null)")
        conn.execute("insert into dag values ('cycle', true)")
        conn.execute("create table asset_event (id serial primary key, asset_id int)")
        services.install_wake_triggers(conn)
        services.install_wake_triggers(conn)  # idempotent: init runs it on every full run
    return url


def _waited(wakeup, seconds: float, change: str, url: str) -> float:
    """Seconds `wakeup.wait(seconds)` took while `change` is made 0.3 s after it began."""

    def make_change() -> None:
        time.sleep(0.3)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(change)

    thread = threading.Thread(target=make_change)
    started = time.monotonic()
    thread.start()
    wakeup.wait(seconds)
    took = time.monotonic() - started
    thread.join()
    return took


def test_a_new_dag_run_or_a_task_state_change_ends_the_sleep(services, airflow_db: str) -> None:
    wakeup = services.Wakeup(_params(airflow_db))
    wakeup.wait(0)  # connects and listens
    assert wakeup.conn is not None
    assert _waited(wakeup, 10, "insert into dag_run (dag_id) values ('cycle')", airflow_db) < 2
    assert _waited(wakeup, 10, "update task_instance set state = 'success' where id = 1", airflow_db) < 2
    # A heartbeat, or a state written again unchanged, is no news: the sleep runs its course.
    assert _waited(wakeup, 1.5, "update task_instance set last_heartbeat_at = now() where id = 1", airflow_db) >= 1.5
    assert _waited(wakeup, 1.5, "update task_instance set state = 'success' where id = 1", airflow_db) >= 1.5


def test_an_unpaused_dag_or_an_asset_event_ends_the_sleep(services, airflow_db: str) -> None:
    wakeup = services.Wakeup(_params(airflow_db))
    wakeup.wait(0)
    assert wakeup.conn is not None
    assert _waited(wakeup, 10, "update dag set is_paused = false where dag_id = 'cycle'", airflow_db) < 2
    assert _waited(wakeup, 10, "insert into asset_event (asset_id) values (1)", airflow_db) < 2
    # Pausing is no news for the scheduler.
    assert _waited(wakeup, 1.5, "update dag set is_paused = true where dag_id = 'cycle'", airflow_db) >= 1.5


def test_a_lost_connection_falls_back_to_sleeping(services, airflow_db: str) -> None:
    wakeup = services.Wakeup(_params(airflow_db))
    wakeup.wait(0)
    with psycopg.connect(airflow_db, autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'baton-scheduler-wakeup'"
        )
    started = time.monotonic()
    wakeup.wait(0.5)  # notices the lost connection
    wakeup.wait(0.5)  # sleeps
    assert time.monotonic() - started >= 0.5
    assert wakeup.conn is None and wakeup.retry_at > time.monotonic()
