"""baton-airflow-scheduler and baton-airflow-dag-processor (images/airflow/services.py): their waits
follow the work."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture
def services_module(monkeypatch: pytest.MonkeyPatch):
    """The image's services module, imported afresh with the environment the test set."""
    monkeypatch.syspath_prepend(str(REPO / "images" / "airflow"))

    def load():
        monkeypatch.delitem(sys.modules, "services", raising=False)
        return importlib.import_module("services")

    return load


@pytest.fixture
def runner(services_module, monkeypatch: pytest.MonkeyPatch):
    from airflow.jobs.job import Job

    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    # Airflow passes its [scheduler] scheduler_idle_sleep_time: the sleep at rest.
    return services_module().WorkFollowingScheduler(job=Job(), num_runs=1, scheduler_idle_sleep_time=2.0)


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


def test_the_waits_are_settings(services_module, monkeypatch) -> None:
    monkeypatch.setenv("BATON_SCHEDULER_BUSY_SLEEP", "0.5")
    monkeypatch.setenv("BATON_SCHEDULER_BUSY_SECONDS", "10")
    monkeypatch.setenv("BATON_DAG_PROCESSOR_IDLE_SLEEP", "2")
    module = services_module()
    assert (module.BUSY_SLEEP, module.BUSY_SECONDS, module.DAG_PROCESSOR_IDLE_SLEEP) == (0.5, 10.0, 2.0)
    monkeypatch.setenv("BATON_SCHEDULER_BUSY_SECONDS", "soon")
    with pytest.raises(SystemExit, match="BATON_SCHEDULER_BUSY_SECONDS='soon' is not a number of seconds"):
        services_module()
    monkeypatch.delenv("BATON_SCHEDULER_BUSY_SECONDS")
    monkeypatch.setenv("BATON_DAG_PROCESSOR_IDLE_SLEEP", "-1")
    with pytest.raises(SystemExit, match="BATON_DAG_PROCESSOR_IDLE_SLEEP='-1' is negative"):
        services_module()


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


@pytest.fixture
def dag_processor(services_module, monkeypatch: pytest.MonkeyPatch):
    """The DAG processor's manager, with the wait of each loop recorded instead of waited."""
    from airflow.dag_processing.manager import DagFileProcessorManager

    waits: list[float] = []
    monkeypatch.setattr(
        DagFileProcessorManager, "_service_processor_sockets", lambda self, timeout=1.0: waits.append(timeout)
    )
    manager = services_module().WorkFollowingDagProcessor(max_runs=1)
    return manager, waits


def test_with_nothing_to_parse_the_dag_processor_waits_the_idle_sleep(dag_processor) -> None:
    manager, waits = dag_processor
    manager._service_processor_sockets(timeout=0.75)  # what is left of Airflow's one-second beat
    assert waits == [4.75]  # a loop every 5 s
    manager._service_processor_sockets(timeout=0.0)  # a loop that ran long goes on at once
    assert waits[-1] == 0.0


def test_while_a_file_is_parsed_or_queued_the_dag_processor_keeps_airflows_beat(dag_processor) -> None:
    from airflow.dag_processing.manager import DagFileInfo

    manager, waits = dag_processor
    file = DagFileInfo(rel_path=Path("shop_ingest.py"), bundle_name="dags-folder", bundle_path=Path("/dags"))
    manager._file_queue[file] = None
    manager._service_processor_sockets(timeout=0.75)
    manager._file_queue.clear()
    manager._processors[file] = object()
    manager._service_processor_sockets(timeout=0.75)
    assert waits == [0.75, 0.75]


def test_airflow_still_passes_the_loops_wait_and_builds_the_manager_the_wrapper_replaces() -> None:
    """What the wrapper relies on in Airflow's DAG processor: an upgrade that changes it fails here."""
    from airflow.cli.commands import dag_processor_command
    from airflow.dag_processing.manager import DagFileProcessorManager

    loop = inspect.getsource(DagFileProcessorManager._run_parsing_loop)
    assert "poll_time = 1 - loop_duration" in loop
    assert "self._service_processor_sockets(timeout=poll_time)" in loop
    assert "self.heartbeat()" in loop
    assert "events = self.selector.select(timeout=timeout)" in inspect.getsource(
        DagFileProcessorManager._service_processor_sockets
    )
    assert dag_processor_command.DagFileProcessorManager is DagFileProcessorManager
    assert "processor=DagFileProcessorManager(" in inspect.getsource(
        dag_processor_command._create_dag_processor_job_runner
    )


def test_each_command_name_runs_its_airflow_command(services_module, monkeypatch) -> None:
    import airflow.__main__
    from airflow.cli.commands import dag_processor_command, scheduler_command

    module = services_module()
    ran: list[list[str]] = []
    monkeypatch.setattr(airflow.__main__, "main", lambda: ran.append(list(sys.argv)))
    monkeypatch.setattr(scheduler_command, "SchedulerJobRunner", scheduler_command.SchedulerJobRunner)
    monkeypatch.setattr(dag_processor_command, "DagFileProcessorManager", dag_processor_command.DagFileProcessorManager)
    for name in ("baton-airflow-scheduler", "baton-airflow-dag-processor"):
        monkeypatch.setattr(sys, "argv", [f"/usr/local/bin/{name}", "--pid", "/tmp/x.pid"])
        module.main()
    assert ran == [["airflow", "scheduler", "--pid", "/tmp/x.pid"], ["airflow", "dag-processor", "--pid", "/tmp/x.pid"]]
    assert scheduler_command.SchedulerJobRunner is module.WorkFollowingScheduler
    assert dag_processor_command.DagFileProcessorManager is module.WorkFollowingDagProcessor
    monkeypatch.setattr(sys, "argv", ["services.py"])
    with pytest.raises(SystemExit, match="run this as baton-airflow-scheduler or baton-airflow-dag-processor"):
        module.main()


def test_the_scheduler_loops_only_sleep_is_the_one_the_wrapper_wakes() -> None:
    """The wrapper replaces the `time` module of Airflow's scheduler: its one `time.sleep` is the
    idle sleep between loops (an upgrade that sleeps elsewhere in that module fails here)."""
    from airflow.jobs import scheduler_job_runner

    source = inspect.getsource(scheduler_job_runner)
    assert source.count("time.sleep(") == 1
    assert "time.sleep(min(self._scheduler_idle_sleep_time" in source


def test_without_a_listening_connection_the_wait_sleeps_and_says_so(services_module, capsys) -> None:
    module = services_module()
    wakeup = module.Wakeup({"host": "127.0.0.1", "port": "1", "dbname": "none", "user": "none", "connect_timeout": "1"})
    clock = module.WakeableTime(wakeup)
    started = clock.monotonic()  # the rest of `time` is the real module
    clock.sleep(0.3)
    assert clock.monotonic() - started >= 0.3
    assert "baton-airflow-scheduler: no wake-ups from Postgres" in capsys.readouterr().err
    assert wakeup.retry_at > clock.monotonic()  # tried again a minute later, not at every sleep


def test_airflows_database_url_becomes_libpq_parameters(services_module) -> None:
    services_module()
    pgurl = importlib.import_module("pgurl")
    params = pgurl.libpq_params("postgresql+psycopg2://air:p%27w%5Cx@db:5433/airflow?sslmode=require", "X")
    assert params == {
        "host": "db",
        "port": "5433",
        "user": "air",
        "password": "p'w\\x",
        "dbname": "airflow",
        "sslmode": "require",
    }
    with pytest.raises(pgurl.UrlError, match=r"^X is not a Postgres URL \(scheme 'mysql'\)"):
        pgurl.libpq_params("mysql://a@b/c", "X")
    with pytest.raises(pgurl.UrlError, match=r"^X names no user, dbname"):
        pgurl.libpq_params("postgresql://db:5432", "X")
    with pytest.raises(pgurl.UrlError, match=r"^X is not set"):
        pgurl.libpq_params("", "X")


def test_the_scheduler_preloads_what_every_task_would_import_again(tmp_path: Path) -> None:
    """Tasks are forked from the scheduler: after the preload, a DAG file's Asset imports nothing.
    Without it, Airflow's asset URI handlers (the amazon provider's, with boto3) are imported by
    the first Asset of every task."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(REPO / 'images' / 'airflow')!r})\n"
        "import services\n"
        "missing = services.preload_task_libraries() if sys.argv[1] == 'preload' else []\n"
        "from airflow.sdk import Asset\n"
        "before = set(sys.modules)\n"
        "Asset(name='raw_shop', uri='baton://raw/shop')\n"
        "print(json.dumps({'missing': missing, 'imported': sorted(set(sys.modules) - before)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}

    def probe_run(mode: str) -> dict:
        out = subprocess.run([sys.executable, str(probe), mode], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    cold = probe_run("cold")
    assert any(m.startswith("airflow.providers.amazon") for m in cold["imported"])
    warm = probe_run("preload")
    assert warm["imported"] == []
    assert set(warm["missing"]) <= {"docker"}  # the docker SDK is in the Airflow image, not in every venv
