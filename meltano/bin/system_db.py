"""Create Meltano's system database schema once, whichever job asks first.

Two jobs starting on a fresh system database both run Meltano's migrations, and one of them fails
("Cannot upgrade the system database"). The jobs image runs this before every `meltano` command:
when the schema is missing it takes a Postgres advisory lock, runs `meltano upgrade database` if it
is still missing, and lets the others go on. With the schema in place it costs one query.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg

LOCK_KEY = 0x6D656C74616E6F  # any constant shared by every job; "meltano" in hex


def _dsn(uri: str) -> str | None:
    scheme, sep, rest = uri.partition("://")
    if not sep or not scheme.startswith("postgresql"):
        return None  # SQLite and others: one process, nothing to race
    return f"postgresql://{rest}"


def _has_schema(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('alembic_version') is not null").fetchone()[0]


# A database restarting (or not up yet) answers again within seconds: wait this long before failing.
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


def main() -> int:
    dsn = _dsn(os.environ.get("MELTANO_DATABASE_URI", ""))
    if dsn is None:
        return 0
    for attempt, delay in enumerate((*RETRY_DELAYS, None)):
        try:
            ensure(dsn)
            return 0
        except psycopg.OperationalError as exc:
            if delay is None:
                print(f"error: cannot reach Meltano's system database (MELTANO_DATABASE_URI): {exc}", file=sys.stderr)
                return 1
            print(f"Meltano's system database does not answer ({exc}); try {attempt + 2} in {delay} s", file=sys.stderr)
            time.sleep(delay)
        except subprocess.CalledProcessError as exc:
            print(f"error: `meltano upgrade database` failed with exit code {exc.returncode}", file=sys.stderr)
            return 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
