"""A source's lock on Meltano's system database (meltano/bin/system_db.py), on a real Postgres: it
dies with the process that holds it, a second run waits for a live one naming it, and Meltano's
record of a dead run is marked failed at once, so that Meltano runs the pipeline again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import system_db

from tests.conftest import REPO
from tests.integration.conftest import pg_url
from tests.integration.datapath import MELTANO, MELTANO_PYTHON

BIN = REPO / "meltano" / "bin"

PIPELINE = "tap-shop-to-target-raw-shop"


@pytest.fixture
def dsn(meltano_db) -> str:
    """A fresh database on the test Postgres."""
    name = f"lock_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url(meltano_db, "meltano"), autocommit=True) as conn:
        conn.execute(f"create database {name}")
    return pg_url(meltano_db, name)


def _holder(dsn: str, source: str, then: str) -> subprocess.Popen:
    """Another job: a process that takes the source's lock, says so, then runs `then`."""
    script = textwrap.dedent(f"""
        import os, sys, time
        import system_db
        with system_db.source_lock({dsn!r}, {source!r}, 5):
            print("holding", flush=True)
            {then}
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "BATON_JOB_NAME": "ingest_shop-try-1", "PYTHONPATH": str(BIN)},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_live_run_is_waited_for_and_named(dsn: str, processes: list) -> None:
    processes.append(_holder(dsn, "shop", "time.sleep(2)"))
    said: list[str] = []
    t0 = time.monotonic()
    with system_db.source_lock(dsn, "shop", 30, log=said.append):
        waited = time.monotonic() - t0
    assert 1 <= waited < 10, f"waited {waited:.1f}s for a run that held the lock 2 s"
    assert "another run of shop is loading it: 'baton el shop ingest_shop-try-1" in said[0], said
    assert said[-1] == "el: the other run of shop has ended; this run goes on"
    # Another source is not held up by it.
    processes.append(_holder(dsn, "shop", "time.sleep(60)"))
    with system_db.source_lock(dsn, "marketing", 0.1, log=said.append):
        pass


def test_a_run_still_live_after_the_wait_fails_naming_it(dsn: str, processes: list) -> None:
    processes.append(_holder(dsn, "shop", "time.sleep(60)"))
    t0 = time.monotonic()
    busy = r"still loading it after 1 s: 'baton el shop ingest_shop-try-1"
    with pytest.raises(system_db.SourceBusy, match=busy), system_db.source_lock(dsn, "shop", 1, log=lambda _: None):
        pass
    assert time.monotonic() - t0 < 5


def test_a_killed_run_frees_the_lock_at_once(dsn: str, processes: list) -> None:
    holder = _holder(dsn, "shop", "time.sleep(60)")
    processes.append(holder)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    t0 = time.monotonic()
    with system_db.source_lock(dsn, "shop", 10, log=lambda _: None):
        took = time.monotonic() - t0
    assert took < 2, f"the lock of a killed run was freed after {took:.1f}s"


def _meltano_schema(dsn: str) -> None:
    env = {**os.environ, "MELTANO_DATABASE_URI": dsn.replace("postgresql://", "postgresql+psycopg://")}
    subprocess.run([str(MELTANO), "upgrade", "database"], cwd=REPO / "meltano", env=env, check=True)


def _running(dsn: str, job_name: str) -> str:
    """What Meltano itself finds running for job_name (its JobFinder, after its own stale check)."""
    script = textwrap.dedent(f"""
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session
        from meltano.core.job.finder import JobFinder
        from meltano.core.job.stale_job_failer import fail_stale_jobs
        with Session(create_engine({dsn.replace("postgresql://", "postgresql+psycopg://")!r})) as session:
            fail_stale_jobs(session, {job_name!r})
            job = JobFinder({job_name!r}).latest_running(session)
            print(job.state if job else "none")
    """)
    out = subprocess.run([str(MELTANO_PYTHON), "-c", script], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_meltano_s_record_of_a_dead_run_is_failed_once_the_lock_is_held(dsn: str) -> None:
    _meltano_schema(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # A run killed 20 s ago (Meltano would call it stale only after 5 minutes), a live run of
        # another pipeline, and a run of this one that ended.
        for job_name, state, silent in (
            (f"dev:{PIPELINE}", "RUNNING", 20),
            ("dev:tap-marketing-to-target-raw-marketing", "RUNNING", 0),
            (f"dev:{PIPELINE}", "SUCCESS", 3600),
        ):
            conn.execute(
                "insert into runs (job_name, run_id, state, started_at, last_heartbeat_at, payload, payload_flags) "
                "values (%s, gen_random_uuid(), %s, now() at time zone 'utc' - interval '1 minute', "
                "now() at time zone 'utc' - make_interval(secs => %s), '{\"singer_state\": {}}', 0)",
                (job_name, state, silent),
            )
    assert _running(dsn, f"dev:{PIPELINE}") == "RUNNING"  # Meltano would refuse to run
    said: list[str] = []
    with system_db.source_lock(dsn, "shop", 5) as conn:
        failed = system_db.fail_dead_runs(conn, PIPELINE, log=said.append)
    assert len(failed) == 1 and "a dead run of 'dev:tap-shop-to-target-raw-shop'" in said[0]
    assert _running(dsn, f"dev:{PIPELINE}") == "none"
    assert _running(dsn, "dev:tap-marketing-to-target-raw-marketing") == "RUNNING"
    with psycopg.connect(dsn) as conn:
        states = conn.execute("select state, payload from runs where job_name = %s order by id", (f"dev:{PIPELINE}",))
        (dead_state, payload), (other_state, _) = states.fetchall()
    assert (dead_state, other_state) == ("FAIL", "SUCCESS")
    assert '"singer_state": {}' in payload and "marked failed by the next run" in payload
