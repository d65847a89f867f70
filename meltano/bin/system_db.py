"""Meltano's system database (MELTANO_DATABASE_URI, Postgres): its schema, and the sources' locks.

Schema. Two jobs starting on a fresh system database both run Meltano's migrations, and one of them
fails ("Cannot upgrade the system database"). The jobs image runs this before every `meltano`
command: when the schema is missing it takes a Postgres advisory lock, runs `meltano upgrade
database` if it is still missing, and lets the others go on. With the schema in place it costs one
query.

A source's lock (source_lock). The ingestion job of a source holds a session advisory lock, keyed by
the source, on a connection of its own for as long as it runs: the lock goes away with the job's
process or container (a killed process's socket is closed by the kernel; a vanished host is found
by TCP keepalives within about 30 s). So two live runs of a source never overlap, and a dead run
never blocks the next one: once the lock is held, Meltano's record of a run of the same pipeline
still marked RUNNING is a dead run's, and is marked failed at once (fail_dead_runs) instead of after
Meltano's 5 minutes without a heartbeat.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime

import psycopg
from baton_contract.waiting import WaitTimeout, poll, retry

LOCK_KEY = 0x6D656C74616E6F  # any constant shared by every job; "meltano" in hex
# The sources' locks: pg_advisory_lock(SOURCE_LOCK_CLASS, hashtext(<source>)).
SOURCE_LOCK_CLASS = 0x62746E  # "btn"
# Both ends of the lock's connection probe a silent peer: after 10 s idle, every 5 s, 3 times. The
# server side (tcp_keepalives_*) is what frees the lock of a job whose host vanished.
KEEPALIVES: dict[str, object] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
}
# Meltano heartbeats a live run every second; a RUNNING record silent this long is a dead run's.
HEARTBEAT_SILENT_SECONDS = 3


class SourceBusy(RuntimeError):
    """Another live run of the source held its lock for longer than the wait allowed."""


def dsn_of(uri: str) -> str | None:
    scheme, sep, rest = uri.partition("://")
    if not sep or not scheme.startswith("postgresql"):
        return None  # SQLite and others: one process, nothing to race
    return f"postgresql://{rest}"


def _has_schema(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('alembic_version') is not null").fetchone()[0]


# A database restarting (or not up yet) answers again within seconds: wait this long (30 s over five
# retries) before failing.
RETRY_DELAYS = (1, 2, 4, 8, 15)


def ensure(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        if _has_schema(conn):
            return
        conn.execute("select pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            if not _has_schema(conn):
                print("Meltano's system database is new: creating its schema", file=sys.stderr)
                meltano = os.environ.get("BATON_MELTANO_BIN", "meltano")
                subprocess.run([meltano, "upgrade", "database"], check=True, stdout=sys.stderr)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))


def connect_for_lock(dsn: str, source: str) -> psycopg.Connection:
    """The lock's own connection, named after the job so that a second run can say who holds it."""
    who = os.environ.get("BATON_JOB_NAME") or socket.gethostname()
    return psycopg.connect(
        dsn,
        autocommit=True,
        connect_timeout=10,
        application_name=f"baton el {source} {who} pid {os.getpid()}"[:63],
        **KEEPALIVES,
    )


def lock_holder(conn: psycopg.Connection, source: str) -> str | None:
    """Who holds the source's lock: its connection's name, address and start; None when nobody."""
    row = conn.execute(
        "select a.application_name, coalesce(host(a.client_addr), 'local'), a.backend_start, a.pid "
        "from pg_locks l join pg_stat_activity a on a.pid = l.pid "
        "where l.locktype = 'advisory' and l.granted and l.objsubid = 2 "
        "and l.classid = %s::bigint and l.objid = hashtext(%s)::oid",
        (SOURCE_LOCK_CLASS, source),
    ).fetchone()
    if row is None:
        return None
    name, addr, started, pid = row
    return f"'{name or '?'}' from {addr}, running since {started:%Y-%m-%d %H:%M:%S %Z} (server pid {pid})"


@contextmanager
def source_lock(
    dsn: str, source: str, wait_seconds: float, log: Callable[[str], None] = print
) -> Iterator[psycopg.Connection]:
    """Hold the source's lock while the block runs. Another live run holding it is waited for, up to
    `wait_seconds` (its name logged), then SourceBusy names it. The lock is released when the block
    ends, or when the process dies: it belongs to the connection."""
    conn = connect_for_lock(dsn, source)
    try:
        key = (SOURCE_LOCK_CLASS, source)
        if not conn.execute("select pg_try_advisory_lock(%s, hashtext(%s))", key).fetchone()[0]:
            holder = lock_holder(conn, source) or "a run that has just ended"
            log(f"el: another run of {source} is loading it: {holder}; waiting up to {wait_seconds:.0f} s")
            conn.execute(f"set lock_timeout = '{max(int(wait_seconds * 1000), 1)}ms'")
            try:
                conn.execute("select pg_advisory_lock(%s, hashtext(%s))", key)
            except psycopg.errors.LockNotAvailable:
                holder = lock_holder(conn, source) or holder
                raise SourceBusy(
                    f"another run of {source} is still loading it after {wait_seconds:.0f} s: {holder}. "
                    "Two runs of a source never overlap: wait for it to end, or stop it"
                ) from None
            conn.execute("reset lock_timeout")
            log(f"el: the other run of {source} has ended; this run goes on")
        yield conn
    finally:
        conn.close()


def fail_dead_runs(conn: psycopg.Connection, pipeline: str, log: Callable[[str], None] = print) -> list[datetime]:
    """Mark failed Meltano's records of `pipeline` (`<environment>:<pipeline>`) that are RUNNING
    although the caller holds the source's lock: each is a dead run's (a killed job). Returns their
    start times. A record whose heartbeat is still fresh (a `meltano run` started outside the lock)
    is left alone: Meltano refuses to run next to it, naming it."""
    if not conn.execute("select to_regclass('runs') is not null").fetchone()[0]:
        return []
    reason = "The job that ran it has ended (its source's lock was free): marked failed by the next run."
    running = "state = 'RUNNING' and right(job_name, length(%(p)s) + 1) = ':' || %(p)s"
    rows: list[tuple] = []

    def none_running() -> bool:
        rows.extend(
            conn.execute(
                "update runs set state = 'FAIL', ended_at = now() at time zone 'utc', payload = "
                "(coalesce(nullif(payload, '')::jsonb, '{}'::jsonb) || jsonb_build_object('error', %(r)s::text))::text "
                f"where {running} and coalesce(last_heartbeat_at, started_at) "
                "< now() at time zone 'utc' - make_interval(secs => %(s)s) returning job_name, started_at",
                {"r": reason, "p": pipeline, "s": HEARTBEAT_SILENT_SECONDS},
            ).fetchall()
        )
        (fresh,) = conn.execute(f"select count(*) from runs where {running}", {"p": pipeline}).fetchone()
        return not fresh

    # A run killed a moment ago still has a fresh heartbeat: give it the seconds it takes to go silent.
    # One still fresh after that is a live `meltano run` outside the lock: left alone.
    with suppress(WaitTimeout):
        poll(none_running, timeout=HEARTBEAT_SILENT_SECONDS + 2, every=1, what=f"the dead runs of {pipeline}")
    for job_name, started in rows:
        log(f"el: Meltano's record of a dead run of '{job_name}' (started {started:%H:%M:%S} UTC) marked failed")
    return [started for _, started in rows]


def _not_answering(exc: BaseException, attempt: int, delay: float) -> None:
    print(f"Meltano's system database does not answer ({exc}); try {attempt} in {delay:g} s", file=sys.stderr)


def main() -> int:
    dsn = dsn_of(os.environ.get("MELTANO_DATABASE_URI", ""))
    if dsn is None:
        return 0
    try:
        retry(
            lambda: ensure(dsn),
            delays=RETRY_DELAYS,
            when=lambda exc: isinstance(exc, psycopg.OperationalError),
            before_sleep=_not_answering,
        )
    except psycopg.OperationalError as exc:
        print(f"error: cannot reach Meltano's system database (MELTANO_DATABASE_URI): {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"error: `meltano upgrade database` failed with exit code {exc.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
