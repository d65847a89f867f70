#!/usr/bin/env python
"""baton-airflow-scheduler: `airflow scheduler` whose idle sleep follows the work.

    baton-airflow-scheduler [options of airflow scheduler]

Between two scheduling loops with nothing to do, Airflow's scheduler sleeps
`[scheduler] scheduler_idle_sleep_time`, one value for all the time. Each loop costs a dozen
queries, so a short sleep keeps a sandbox at rest busy (at 0.25 s the scheduler and the Postgres
that answers it took about 30% of one core), while a long one delays every hop of a cycle (a run
created from an asset event, a task queued, a run marked done) by up to that sleep.

This scheduler sleeps BATON_SCHEDULER_BUSY_SLEEP (0.25 s) while its executors run or queue tasks,
and for BATON_SCHEDULER_BUSY_SECONDS (30 s) after the last loop that queued a task, saw one finish
or found one running; else, at rest, it sleeps
`scheduler_idle_sleep_time` (the sandbox sets 2 s). A cycle's hops follow one another within a
few seconds of a task, so they all get the short sleep; only the first hop of a run triggered at
rest (make run, the daily schedule) waits up to the long one.
"""

from __future__ import annotations

import os
import sys
import time

from airflow.jobs.scheduler_job_runner import SchedulerJobRunner


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


def main() -> None:
    from airflow.__main__ import main as airflow_main
    from airflow.cli.commands import scheduler_command

    scheduler_command.SchedulerJobRunner = WorkFollowingScheduler  # the job runner `airflow scheduler` builds
    sys.argv = ["airflow", "scheduler", *sys.argv[1:]]
    airflow_main()


if __name__ == "__main__":
    main()
