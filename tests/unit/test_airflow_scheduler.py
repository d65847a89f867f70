"""baton-airflow-scheduler (images/airflow/scheduler.py): the idle sleep follows the executors' work."""

from __future__ import annotations

import importlib
import inspect
import sys

import pytest

from tests.conftest import REPO


@pytest.fixture
def scheduler_module(monkeypatch: pytest.MonkeyPatch):
    """The image's scheduler module, imported afresh with the environment the test set."""
    monkeypatch.syspath_prepend(str(REPO / "images" / "airflow"))

    def load():
        monkeypatch.delitem(sys.modules, "scheduler", raising=False)
        return importlib.import_module("scheduler")

    return load


@pytest.fixture
def runner(scheduler_module, monkeypatch: pytest.MonkeyPatch):
    from airflow.jobs.job import Job

    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    # Airflow passes its [scheduler] scheduler_idle_sleep_time: the sleep at rest.
    return scheduler_module().WorkFollowingScheduler(job=Job(), num_runs=1, scheduler_idle_sleep_time=2.0)


def test_at_rest_it_sleeps_airflows_idle_sleep_and_while_tasks_run_the_short_one(runner) -> None:
    executor = runner.executors[0]
    assert type(executor).__name__ == "LocalExecutor"
    assert runner._scheduler_idle_sleep_time == 2.0  # nothing ran since it started
    executor.running.add("a task")
    assert runner._scheduler_idle_sleep_time == 0.25
    executor.running.clear()
    assert runner._scheduler_idle_sleep_time == 0.25  # the next hop of the cycle comes soon
    runner._last_busy -= 31  # 31 s after the last task
    assert runner._scheduler_idle_sleep_time == 2.0


def test_a_loop_that_queued_a_task_or_saw_one_finish_keeps_the_short_sleep(runner, monkeypatch) -> None:
    """A task that ends between two idle sleeps leaves the executor empty: the loop that processed
    its end, like the one that queued it, still counts as work (the next hop follows at once)."""
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    monkeypatch.setattr(SchedulerJobRunner, "_process_executor_events", lambda self, executor, session: 1)
    assert runner._scheduler_idle_sleep_time == 2.0
    assert runner._process_executor_events(executor=runner.executors[0], session=None) == 1
    assert runner._scheduler_idle_sleep_time == 0.25
    runner._last_busy -= 31
    monkeypatch.setattr(SchedulerJobRunner, "_do_scheduling", lambda self, session: 2)
    assert runner._do_scheduling(None) == 2
    assert runner._scheduler_idle_sleep_time == 0.25


def test_the_short_sleep_and_the_busy_window_are_settings(scheduler_module, monkeypatch) -> None:
    monkeypatch.setenv("BATON_SCHEDULER_BUSY_SLEEP", "0.5")
    monkeypatch.setenv("BATON_SCHEDULER_BUSY_SECONDS", "10")
    module = scheduler_module()
    assert (module.BUSY_SLEEP, module.BUSY_SECONDS) == (0.5, 10.0)
    monkeypatch.setenv("BATON_SCHEDULER_BUSY_SECONDS", "soon")
    with pytest.raises(SystemExit, match="BATON_SCHEDULER_BUSY_SECONDS='soon' is not a number of seconds"):
        scheduler_module()


def test_airflow_still_sleeps_the_attribute_and_builds_the_runner_the_wrapper_replaces() -> None:
    """What the wrapper relies on in Airflow's scheduler: an upgrade that changes it fails here."""
    from airflow.cli.commands import scheduler_command
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    loop = inspect.getsource(SchedulerJobRunner._run_scheduler_loop)
    assert "time.sleep(min(self._scheduler_idle_sleep_time" in loop
    assert "num_queued_tis = self._do_scheduling(session)" in loop
    assert "self._process_executor_events(" in loop
    assert "self._scheduler_idle_sleep_time = " in inspect.getsource(SchedulerJobRunner.__init__)
    assert scheduler_command.SchedulerJobRunner is SchedulerJobRunner
    assert "SchedulerJobRunner(" in inspect.getsource(scheduler_command._run_scheduler_job)
