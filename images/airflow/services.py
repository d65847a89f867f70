#!/usr/bin/env python
"""The sandbox's scheduler and DAG processor: Airflow's, with waits that follow the work.

    baton-airflow-scheduler [options of airflow scheduler]
    baton-airflow-dag-processor [options of airflow dag-processor]

Both Airflow loops poll the metadata database on a fixed beat, busy or not. At rest that beat is
most of what a sandbox costs (at 0.25 s the scheduler and the Postgres that answers it took about
30% of one core; the DAG processor's one-second loop, a few queries each time, 6-8%), while a
longer one everywhere would delay the hops of a cycle.

The scheduler: between two scheduling loops with nothing to do, Airflow sleeps
`[scheduler] scheduler_idle_sleep_time`, one value for all the time. This one sleeps
BATON_SCHEDULER_BUSY_SLEEP (0.25 s) while its executors run or queue tasks, and for
BATON_SCHEDULER_BUSY_SECONDS (30 s) after the last loop that queued a task, saw one finish or found
one running; else, at rest, it sleeps `scheduler_idle_sleep_time` (the sandbox sets 5 s). A
cycle's hops follow one another within a few seconds of a task, so they all get the short sleep.

Either sleep ends early when Postgres announces work: baton-airflow-init creates triggers on
Airflow's tables (`install_wake_triggers`) that NOTIFY the channel `baton_scheduler` when a DAG
run is created (a trigger from the UI, the API or `make run`; a run the scheduler makes from an
asset event), when a task instance changes state (a task that finished), when a DAG is unpaused
and when an asset event is recorded (one sent through the API). At rest only a DAG's scheduled
time waits for the end of the sleep. The scheduler LISTENs
on a connection of its own and waits on its socket instead of sleeping: a hop costs the time to
notice it, not the rest of a sleep. Without that connection (it failed, or the triggers are not
there) it sleeps as above and tries to listen again a minute later.

Before the scheduler starts, it imports what every task of the kit's DAGs would import again
(`preload_task_libraries`): LocalExecutor forks its workers from the scheduler and each task from a
worker, so a task inherits those and parses its DAG file in tens of milliseconds instead of
hundreds. Only installed libraries, never the DAG folder's modules.

The DAG processor: Airflow's loop runs once a second (no setting changes it): it claims reparse
requests, fetches DAG callbacks, checks the bundles and waits for its parsing processes. This one
keeps that beat while a file is being parsed or waits to be; with nothing to parse, it waits
BATON_DAG_PROCESSOR_IDLE_SLEEP (5 s) between loops. A changed DAG file, a reparse asked for in the
UI or a DAG callback is then picked up within that instead of a second; a parse that is under way
wakes it at once. Its job still heartbeats every loop (Airflow's threshold is 60 s).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time
from pathlib import Path


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        sys.exit(f"{name}={raw!r} is not a number of seconds: set it in compose/compose.yml or unset it")
    if value < 0:
        sys.exit(f"{name}={raw!r} is negative: give a number of seconds >= 0")
    return value


BUSY_SLEEP = _seconds("BATON_SCHEDULER_BUSY_SLEEP", 0.25)
BUSY_SECONDS = _seconds("BATON_SCHEDULER_BUSY_SECONDS", 30.0)
DAG_PROCESSOR_IDLE_SLEEP = _seconds("BATON_DAG_PROCESSOR_IDLE_SLEEP", 5.0)


WAKE_CHANNEL = "baton_scheduler"
# name -> (table, when it fires, for what); see install_wake_triggers
WAKE_TRIGGERS = {
    "baton_wake_on_dag_run": ("dag_run", "after insert", "for each statement"),
    "baton_wake_on_task_state": (
        "task_instance",
        "after update of state",
        "for each row when (old.state is distinct from new.state)",
    ),
    "baton_wake_on_unpause": (
        "dag",
        "after update of is_paused",
        "for each row when (old.is_paused and not new.is_paused)",
    ),
    "baton_wake_on_asset_event": ("asset_event", "after insert", "for each statement"),
}
RELISTEN_SECONDS = 60.0

# Libraries every task process of the kit's DAGs imports. LocalExecutor forks its workers from the
# scheduler, and each task from a worker: what the scheduler imported before, a task does not import
# again. Only installed libraries, never the DAG folder's own modules (the sandbox mounts it: an
# edited file must be read by the next task).
TASK_LIBRARIES = (
    "pydantic_settings",  # baton.config
    "airflow.providers.standard.decorators.python",  # @task
    "docker",  # the docker runner, at run time
)


def install_wake_triggers(conn) -> None:
    """The triggers that wake a listening scheduler (see the module doc); `conn`: a DB-API
    connection to Airflow's database, after its migration. Idempotent."""
    conn.execute(
        "create or replace function baton_wake_scheduler() returns trigger language plpgsql as "
        f"$$ begin perform pg_notify('{WAKE_CHANNEL}', tg_table_name); return null; end $$"
    )
    for name, (table, timing, scope) in WAKE_TRIGGERS.items():
        # Dropped and created: CREATE OR REPLACE TRIGGER needs Postgres 14.
        conn.execute(f"drop trigger if exists {name} on {table}")
        conn.execute(f"create trigger {name} {timing} on {table} {scope} execute function baton_wake_scheduler()")


class Wakeup:
    """A LISTEN connection to Airflow's database: `wait(seconds)` returns when a notification arrives
    or the time is up; without a working connection it sleeps."""

    def __init__(self, params: dict[str, str]):
        self.params = params  # libpq parameters (baton_pgurl.libpq_params)
        self.conn = None
        self.retry_at = 0.0

    def _listen(self):
        if self.conn is None and time.monotonic() >= self.retry_at:
            import psycopg2
            from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

            try:
                params = {"connect_timeout": 5, **self.params, "application_name": "baton-scheduler-wakeup"}
                conn = psycopg2.connect(**params)
                conn.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
                conn.cursor().execute(f"listen {WAKE_CHANNEL}")
                self.conn = conn
            except Exception as exc:  # the scheduler's own loop reports database trouble
                print(f"baton-airflow-scheduler: no wake-ups from Postgres ({exc}); sleeping instead", file=sys.stderr)
                self.retry_at = time.monotonic() + RELISTEN_SECONDS
        return self.conn

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + max(seconds, 0.0)
        conn = self._listen()
        if conn is not None:
            try:
                if not conn.notifies:
                    select.select([conn], [], [], max(seconds, 0.0))
                conn.poll()
                if conn.closed:
                    raise ConnectionError("the server closed the connection")
                conn.notifies.clear()
                return
            except Exception as exc:  # lost: sleep the rest, listen again later
                print(
                    f"baton-airflow-scheduler: wake-ups from Postgres stopped ({exc}); sleeping instead",
                    file=sys.stderr,
                )
                self.conn = None
                self.retry_at = time.monotonic() + RELISTEN_SECONDS
                with contextlib.suppress(Exception):
                    conn.close()
        time.sleep(max(deadline - time.monotonic(), 0.0))


class WakeableTime:
    """The `time` module as Airflow's scheduler loop sees it: its sleep is a Wakeup's wait."""

    def __init__(self, wakeup: Wakeup):
        self._wakeup = wakeup

    def sleep(self, seconds: float) -> None:
        self._wakeup.wait(seconds)

    def __getattr__(self, name: str):
        return getattr(time, name)


def _work_following_scheduler() -> type:
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    class WorkFollowingScheduler(SchedulerJobRunner):
        """The scheduler's job runner with an idle sleep that is short while there is work."""

        _rest_sleep: float = 1.0
        _last_busy: float = float("-inf")

        def _busy_if(self, count: int) -> int:
            if count:
                self._last_busy = time.monotonic()
            return count

        def _do_scheduling(self, *args, **kwargs) -> int:  # returns the tasks it queued
            return self._busy_if(super()._do_scheduling(*args, **kwargs))

        def _process_executor_events(self, *args, **kwargs) -> int:  # returns the tasks that finished
            return self._busy_if(super()._process_executor_events(*args, **kwargs))

        @property
        def _scheduler_idle_sleep_time(self) -> float:  # read by the loop before each idle sleep
            self._busy_if(sum(len(e.running) + len(e.queued_tasks) for e in self.executors))
            busy = time.monotonic() - self._last_busy < BUSY_SECONDS
            return BUSY_SLEEP if busy else max(self._rest_sleep, BUSY_SLEEP)

        @_scheduler_idle_sleep_time.setter
        def _scheduler_idle_sleep_time(self, value: float) -> None:  # Airflow's setting: the rest sleep
            self._rest_sleep = value

    return WorkFollowingScheduler


def _work_following_dag_processor() -> type:
    from airflow.dag_processing.manager import DagFileProcessorManager

    class WorkFollowingDagProcessor(DagFileProcessorManager):
        """The DAG processor's manager whose loop slows down while there is nothing to parse."""

        def _service_processor_sockets(self, timeout: float | None = 1.0):
            # Airflow's loop passes what is left of its one-second beat (0 when a loop ran long).
            if timeout and not self._processors and not self._file_queue:
                timeout += max(DAG_PROCESSOR_IDLE_SLEEP - 1.0, 0.0)
            return super()._service_processor_sockets(timeout=timeout)

    return WorkFollowingDagProcessor


# The two classes are built on Airflow's when first asked for: baton-airflow-init imports this
# module for its triggers without importing Airflow's scheduler (about 1.5 s of CPU).
_CLASSES = {
    "WorkFollowingScheduler": _work_following_scheduler,
    "WorkFollowingDagProcessor": _work_following_dag_processor,
}


def __getattr__(name: str):
    if name in _CLASSES:
        globals()[name] = built = _CLASSES[name]()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def preload_task_libraries() -> list[str]:
    """Import TASK_LIBRARIES and set up Airflow's asset URI handlers (every Asset a DAG file
    defines asks for them; the amazon provider's import boto3) in this process, before the
    executor forks its workers. Returns what could not be loaded (a task then loads it itself)."""
    import importlib

    missing = []
    for module in TASK_LIBRARIES:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        ProvidersManagerTaskRuntime().initialize_providers_asset_uri_resources()
    except Exception as exc:  # an Airflow without it: tasks do it themselves, as before
        missing.append(f"asset URI handlers ({exc})")
    return missing


def main() -> None:
    from airflow.__main__ import main as airflow_main
    from airflow.cli.commands import dag_processor_command, scheduler_command

    name = Path(sys.argv[0]).name
    if name == "baton-airflow-scheduler":
        from airflow.configuration import conf
        from airflow.jobs import scheduler_job_runner

        scheduler_command.SchedulerJobRunner = __getattr__("WorkFollowingScheduler")  # what `airflow scheduler` builds
        # The loop's one `time.sleep` (between idle loops) waits for Postgres' notifications instead.
        url = conf.get("database", "sql_alchemy_conn")
        if url.startswith("postgresql"):
            from baton_pgurl import libpq_params

            params = libpq_params(url, "[database] sql_alchemy_conn")
            scheduler_job_runner.time = WakeableTime(Wakeup(params))
        missing = preload_task_libraries()
        if missing:
            print(f"baton-airflow-scheduler: not preloaded for tasks: {', '.join(missing)}", file=sys.stderr)
        command = "scheduler"
    elif name == "baton-airflow-dag-processor":
        dag_processor_command.DagFileProcessorManager = __getattr__(
            "WorkFollowingDagProcessor"
        )  # what `airflow dag-processor` builds
        command = "dag-processor"
    else:
        sys.exit(f"{name}: run this as baton-airflow-scheduler or baton-airflow-dag-processor")
    sys.argv = ["airflow", command, *sys.argv[1:]]
    airflow_main()


if __name__ == "__main__":
    main()
