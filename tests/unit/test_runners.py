"""The runners: settings read and validated when a task runs (never when a DAG file is parsed),
secrets from the worker at run time, the job's result from its output, final exit codes, container
names, and the ECS runner's result read from CloudWatch."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException
from baton.config import (
    ConfigError,
    DockerSettings,
    EcsSettings,
    MountSpec,
    SubprocessSettings,
    load_config,
    runner_settings,
)
from baton.runners import RETRY_AT_ONCE, JobInterrupted, baton_result, job_operator, job_result
from baton.runners.docker import DockerJobOperator, container_name
from baton.runners.ecs import EcsJobOperator
from baton.runners.subprocess import SubprocessJobOperator

DOCKER = {
    "BATON_RUNNER": "docker",
    "BATON_JOBS_IMAGE": "baton/jobs:test",
    "BATON_DOCKER_NETWORK": "baton_net",
    "BATON_DOCKER_MOUNTS": "/srv/warehouse:/data/warehouse,/srv/marketing:/data/marketing:ro",
    "BATON_JOB_ENV": "MELTANO_DATABASE_URI,BATON_SHOP_DB_URL",
    "BATON_PROJECT": "baton-test",
}
ECS = {
    "BATON_ECS_CLUSTER": "c1",
    "BATON_ECS_TASK_DEFINITION": "jobs",
    "BATON_ECS_CONTAINER": "jobs",
    "BATON_ECS_SUBNETS": "subnet-1,subnet-2",
    "BATON_ECS_SECURITY_GROUPS": "sg-1",
    "BATON_ECS_LOG_GROUP": "/baton/jobs",
    "AWS_REGION": "eu-central-1",
}
RESULT = (
    'BATON_RESULT: {"source": "shop", "rows": 1234, "ok": true, '
    '"reconciled": {"shop-orders": {"source": 2500, "raw": 2500, "source_keys": 2500, "raw_keys": 2500}}}'
)


def test_docker_settings_are_parsed_once_with_their_types() -> None:
    s = runner_settings("docker", DOCKER)
    assert s == DockerSettings(
        image="baton/jobs:test",
        url="unix://var/run/docker.sock",
        network="baton_net",
        mounts=(
            MountSpec("/srv/warehouse", "/data/warehouse", False),
            MountSpec("/srv/marketing", "/data/marketing", True),
        ),
        job_env=("MELTANO_DATABASE_URI", "BATON_SHOP_DB_URL"),
        project="baton-test",
        stop_grace_seconds=30,
        memory=None,
    )
    assert runner_settings("docker", {**DOCKER, "BATON_JOB_MEMORY": "2G"}).memory == "2g"


@pytest.mark.parametrize(
    ("runner", "env", "variable"),
    [
        ("docker", {**DOCKER, "BATON_JOBS_IMAGE": ""}, "BATON_JOBS_IMAGE"),
        ("docker", {**DOCKER, "BATON_PROJECT": ""}, "BATON_PROJECT"),
        ("docker", {**DOCKER, "BATON_DOCKER_MOUNTS": "/srv/w"}, "BATON_DOCKER_MOUNTS"),
        ("docker", {**DOCKER, "BATON_DOCKER_MOUNTS": "/a:/b:rw"}, "BATON_DOCKER_MOUNTS"),
        ("docker", {**DOCKER, "BATON_JOB_ENV": "OK,not-a-name"}, "BATON_JOB_ENV"),
        ("docker", {**DOCKER, "BATON_DOCKER_STOP_GRACE_SECONDS": "soon"}, "BATON_DOCKER_STOP_GRACE_SECONDS"),
        ("docker", {**DOCKER, "BATON_JOB_MEMORY": "2 GiB"}, "BATON_JOB_MEMORY"),
        ("ecs", {**ECS, "BATON_ECS_SUBNETS": " , "}, "BATON_ECS_SUBNETS"),
        ("ecs", {k: v for k, v in ECS.items() if k != "BATON_ECS_LOG_GROUP"}, "BATON_ECS_LOG_GROUP"),
        ("ecs", {**ECS, "BATON_ECS_DEFERRABLE": "maybe"}, "BATON_ECS_DEFERRABLE"),
    ],
)
def test_a_bad_runner_setting_is_named(runner: str, env: dict, variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        runner_settings(runner, env)


def test_ecs_and_subprocess_settings() -> None:
    s = runner_settings("ecs", ECS)
    assert isinstance(s, EcsSettings)
    assert (s.subnets, s.capacity_provider, s.deferrable, s.log_stream_prefix) == (
        ("subnet-1", "subnet-2"),
        "FARGATE_SPOT",
        True,
        "jobs",
    )
    sub = runner_settings("subprocess", {"BATON_MELTANO_PROJECT": "/m"})
    assert isinstance(sub, SubprocessSettings)
    assert sub.meltano_project == Path("/m") and sub.meltano_python == sys.executable


@pytest.mark.parametrize("runner", ["docker", "ecs", "subprocess"])
def test_operators_are_built_with_no_runner_environment(runner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [*DOCKER, *ECS]:
        monkeypatch.delenv(key, raising=False)
    config = load_config(environ={"BATON_RUNNER": runner})
    op = job_operator("extract_load", ["el", "shop"], config)
    assert op.command == ["el", "shop"]


def test_the_docker_job_needs_its_settings_when_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in DOCKER:
        monkeypatch.delenv(key, raising=False)
    op = job_operator("extract_load", ["el", "shop"], load_config(environ={"BATON_RUNNER": "docker"}))
    assert isinstance(op, DockerJobOperator)
    with pytest.raises(ConfigError, match="BATON_JOBS_IMAGE is required by BATON_RUNNER=docker"):
        op.execute({"ti": None})


def test_a_variable_missing_on_the_worker_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in DOCKER.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MELTANO_DATABASE_URI", "postgresql+psycopg://u:p@postgres/meltano")
    monkeypatch.delenv("BATON_SHOP_DB_URL", raising=False)
    op = job_operator("extract_load", ["el", "shop"], load_config(environ=DOCKER), env={"X": "1"})
    with pytest.raises(ConfigError, match="BATON_SHOP_DB_URL"):
        op.execute({"ti": None})
    assert "secret" not in repr(op.env)


def test_container_names_are_per_task_instance_and_valid() -> None:
    name = container_name("baton", "ingest_shop", "scheduled__2026-11-24T23:15:00+00:00", "extract_load")
    assert name == container_name("baton", "ingest_shop", "scheduled__2026-11-24T23:15:00+00:00", "extract_load")
    assert name.startswith("baton-ingest_shop-scheduled__2026-11-24T23_15_00_00_00-extract_load-")
    assert container_name("baton", "dbt_x", "manual__a", "build") == "baton-dbt_x-manual__a-build"
    # Runs whose ids differ only in characters docker does not allow get different names.
    assert container_name("p", "d", "run:1", "t") != container_name("p", "d", "run_1", "t")
    assert container_name("p", "d", "r", "t", 3) == "p-d-r-t-3"
    long = container_name("p" * 50, "d" * 100, "r" * 250, "t" * 100)
    assert len(long) <= 128 and long[0].isalnum()
    assert long != container_name("p" * 50, "d" * 100, "r" * 249 + "s", "t" * 100)
    for n in (name, long, container_name("_x", "d", "r", "t")):
        assert len(n) <= 128 and n[0].isalnum() and all(c.isalnum() or c in "_.-" for c in n)


def test_the_result_is_the_baton_result_line_else_the_metrics() -> None:
    lines = [
        'tap-shop METRIC: {"type":"counter","metric":"record_count","value":1200,"tags":{}}',
        "el: reconciled shop-orders: source 2500 raw 2500",
        RESULT,
    ]
    assert job_result(lines) == {
        "source": "shop",
        "rows": 1234,
        "ok": True,
        "reconciled": {"shop-orders": {"source": 2500, "raw": 2500, "source_keys": 2500, "raw_keys": 2500}},
    }
    assert job_result(lines[:1]) == {"rows": 1200}
    assert job_result(["nothing"]) is None and job_result(None) is None
    # CloudWatch messages may carry a prefix; a broken line is skipped for an earlier good one.
    assert baton_result(["2026-11-25T00:15:00Z " + RESULT, "BATON_RESULT: {broken"])["rows"] == 1234


def _fake_el(tmp_path: Path, code: int, monkeypatch: pytest.MonkeyPatch) -> SubprocessJobOperator:
    project = tmp_path / "meltano"
    (project / "bin").mkdir(parents=True)
    (project / "bin" / "el.py").write_text(
        f"import sys\nprint('el: loading', sys.argv[1])\nprint({RESULT!r}, flush=True)\nsys.exit({code})\n"
    )
    monkeypatch.setenv("BATON_MELTANO_PROJECT", str(project))
    monkeypatch.setenv("BATON_MELTANO_PYTHON", sys.executable)
    op = job_operator("extract_load", ["el", "shop"], load_config(environ={"BATON_RUNNER": "subprocess"}))
    assert isinstance(op, SubprocessJobOperator)
    return op


def test_subprocess_el_returns_its_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _fake_el(tmp_path, 0, monkeypatch).execute({})["rows"] == 1234


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(1, "later"), (2, "final"), (3, "final"), (75, "at once"), (137, "at once"), (143, "at once")],
)
def test_exit_codes_decide_the_retry(code: int, outcome: str, tmp_path: Path, monkeypatch) -> None:
    """2 and 3 are final; a stopped or killed job (75, 137, 143) is retried at once; others later."""
    op = _fake_el(tmp_path, code, monkeypatch)
    assert op.retry_policy is RETRY_AT_ONCE
    with pytest.raises(Exception, match=f"exited with code {code}") as raised:
        op.execute({})
    assert isinstance(raised.value, AirflowFailException) is (outcome == "final")
    assert isinstance(raised.value, JobInterrupted) is (outcome == "at once")
    if outcome != "final":  # the decision the task runner takes from the policy
        decision = op.retry_policy.evaluate(raised.value, try_number=1, max_tries=7)
        if outcome == "at once":
            assert (decision.action.value, decision.retry_delay) == ("retry", timedelta(0))
        else:
            assert decision.action.value == "default"  # baton.yml's growing delay


def test_the_retry_policy_survives_dag_serialization() -> None:
    """The scheduler sees only that the task has a policy; the worker evaluates it on the parsed DAG."""
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("ingest_x", schedule=None) as dag:
        job_operator("extract_load", ["el", "x"], load_config(environ={"BATON_RUNNER": "docker"}))
    task = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task("extract_load")
    assert task.has_retry_policy
    assert dag.get_task("extract_load").retry_policy is RETRY_AT_ONCE


class FakeEcs:
    """ECS as the operator sees it: tasks it started stay RUNNING until a test stops them."""

    def __init__(self, exit_code: int, stop_code: str = "EssentialContainerExited", reason: str = "") -> None:
        self.exit_code, self.stop_code, self.reason = exit_code, stop_code, reason
        self.running: dict[str, str] = {}  # arn -> startedBy

    def run_task(self, **opts):
        arn = f"arn:aws:ecs:eu-central-1:1:task/c1/t{len(self.running) + 1}"
        self.running[arn] = opts["startedBy"]
        return {"tasks": [{"taskArn": arn}], "failures": []}

    def list_tasks(self, cluster, desiredStatus, startedBy):
        return {"taskArns": [arn for arn, by in self.running.items() if by == startedBy]}

    def describe_tasks(self, cluster, tasks):
        container = {"name": "jobs", "lastStatus": "STOPPED", "exitCode": self.exit_code, "reason": self.reason}
        task = {"taskArn": tasks[0], "containers": [container], "stopCode": self.stop_code, "memory": "2048"}
        return {"tasks": [task], "failures": []}


class FakeLogs:
    def __init__(self, messages: list[str]) -> None:
        self.messages, self.asked = messages, {}

    def get_log_events(self, **kwargs):
        self.asked = kwargs
        return {"events": [{"message": m} for m in self.messages[-kwargs["limit"] :]]}


@pytest.fixture
def ecs_job(monkeypatch: pytest.MonkeyPatch):
    from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

    for key, value in ECS.items():
        monkeypatch.setenv(key, value)

    def arrange(exit_code: int, messages: list[str], ecs: FakeEcs | None = None) -> tuple:
        logs = FakeLogs(messages)
        ecs = ecs or FakeEcs(exit_code)
        monkeypatch.setattr(EcsRunTaskOperator, "client", property(lambda self: ecs))
        monkeypatch.setattr(AwsLogsHook, "conn", property(lambda self: logs))
        op = job_operator("extract_load", ["el", "shop"], load_config(environ={"BATON_RUNNER": "ecs"}))
        assert isinstance(op, EcsJobOperator)
        return op, logs

    return arrange


EVENT = {"status": "success", "task_arn": "arn:aws:ecs:eu-central-1:1:task/c1/abc123", "cluster": "c1"}


def test_ecs_rows_come_from_the_last_lines_in_cloudwatch(ecs_job) -> None:
    op, logs = ecs_job(0, ["el: loading", RESULT, "a later line from the runtime"])
    # Resumed from the triggerer: a fresh operator, its settings read again.
    result = op.execute_complete({}, EVENT)
    assert result["rows"] == 1234 and result["reconciled"]["shop-orders"]["raw"] == 2500
    assert logs.asked["logGroupName"] == "/baton/jobs"
    assert logs.asked["logStreamName"] == "jobs/jobs/abc123"
    assert logs.asked["startFromHead"] is False


@pytest.mark.parametrize(("code", "final"), [(3, True), (1, False)])
def test_ecs_exit_codes_2_and_3_are_final(ecs_job, code: int, final: bool) -> None:
    op, _ = ecs_job(code, ["el: ERROR reconciliation", 'BATON_RESULT: {"ok": false}'])
    with pytest.raises(Exception) as raised:
        op.execute_complete({}, EVENT)
    assert isinstance(raised.value, AirflowFailException) is final


@pytest.mark.parametrize(
    ("exit_code", "stop_code", "reason", "outcome"),
    [
        (143, "SpotInterruption", "", "at once"),
        (1, "SpotInterruption", "", "at once"),
        (75, "UserInitiated", "", "at once"),
        (137, "EssentialContainerExited", "", "at once"),
        (137, "EssentialContainerExited", "OutOfMemoryError: Container killed due to memory usage", "final"),
        (3, "SpotInterruption", "", "final"),
    ],
)
def test_an_ecs_task_stopped_by_spot_is_retried_at_once(ecs_job, exit_code, stop_code, reason, outcome) -> None:
    op, _ = ecs_job(exit_code, ["el: loading"], FakeEcs(exit_code, stop_code, reason))
    with pytest.raises(Exception) as raised:
        op.execute_complete({}, EVENT)
    assert isinstance(raised.value, JobInterrupted) is (outcome == "at once"), raised.value
    assert isinstance(raised.value, AirflowFailException) is (outcome == "final"), raised.value
    if reason:
        message = "ran out of memory: its limit is 2048 MiB. Raise jobs.memory (Terraform, envs/<env>.tfvars)"
        assert message in str(raised.value)


def test_an_ecs_retry_follows_the_task_an_earlier_try_left_running(ecs_job) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    class Ti:
        dag_id, task_id, run_id, map_index = "ingest_shop", "extract_load", "scheduled__2026-11-25", -1

        def xcom_push(self, key, value) -> None:
            pass

    ecs = FakeEcs(0)
    arns = []
    for _try in range(2):  # each try is a fresh operator, as after a scheduler restart
        op, _ = ecs_job(0, [RESULT], ecs)
        with pytest.raises(TaskDeferred) as deferred:
            op.execute({"ti": Ti()})
        arns.append(deferred.value.trigger.task_arn)
    assert len(ecs.running) == 1, "the retry started a second ECS task"
    assert arns[0] == arns[1] == next(iter(ecs.running))
    Ti.run_id = "scheduled__2026-11-26"  # another run of the task: a task of its own
    op, _ = ecs_job(0, [RESULT], ecs)
    with pytest.raises(TaskDeferred):
        op.execute({"ti": Ti()})
    assert len(ecs.running) == 2


@pytest.mark.parametrize(("runner", "loaded"), [("docker", False), ("ecs", True)])
def test_only_the_picked_runner_is_imported_when_dags_are_parsed(runner: str, loaded: bool) -> None:
    """The amazon provider and the Docker SDK cost DAG parse time: a DAG file imports neither
    unless its runner needs it (ECS: the provider, to build its operator)."""
    import subprocess

    dags = Path(__file__).resolve().parents[2] / "dags"
    probe = (
        "import sys, runpy\n"
        "for f in ('cycle', 'ingestion', 'dbt', 'meltano_state'): runpy.run_path(f'{f}.py')\n"
        "print('amazon' if 'airflow.providers.amazon.aws.operators.ecs' in sys.modules else '-',"
        " 'sdk' if 'docker.api' in sys.modules else '-')\n"
    )
    env = {**os.environ, "BATON_RUNNER": runner, "PYTHONPATH": str(dags)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=dags, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == [("amazon" if loaded else "-"), "-"]
