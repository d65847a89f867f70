"""Container healthcheck for the dag-processor and the triggerer: is this host's job heartbeating?

    python healthcheck.py DagProcessorJob|TriggererJob

`airflow jobs check` answers the same question but imports all of Airflow (seconds of CPU on every
probe); this reads the one row it needs, so the probe can run every few seconds while starting.
"""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import unquote, urlsplit

import psycopg2

THRESHOLD_SECONDS = 60  # a job heartbeats every 5 s; Airflow's own threshold for these is 60 s


def main(job_type: str) -> int:
    url = urlsplit(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    with (
        psycopg2.connect(
            host=url.hostname,
            port=url.port or 5432,
            user=unquote(url.username or ""),
            password=unquote(url.password or ""),
            dbname=url.path.lstrip("/"),
            connect_timeout=3,
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(
            "select count(*) from job where job_type = %s and hostname = %s and state = 'running'"
            " and latest_heartbeat > now() - make_interval(secs => %s)",
            (job_type, socket.getfqdn(), THRESHOLD_SECONDS),
        )
        alive = cur.fetchone()[0] > 0
    if not alive:
        print(f"no running {job_type} heartbeat from {socket.getfqdn()} in the last {THRESHOLD_SECONDS}s")
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
