"""The docker runner on a real engine: one job container per task instance, whatever the tries.

A try that finds the container an earlier try left (same name) follows it when it is still
running and uses its result; one that finds it ended starts its own; every container is removed
once its log is read, a failed one too (its environment holds the job's secrets)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

import docker
import pytest
from airflow.sdk.exceptions import AirflowFailException
from baton.runners import JobInterrupted
from baton.runners.docker import DockerJobOperator, container_name


@dataclass
class Ti:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1


def job(rows: int, code: int = 0, sleep: float = 0) -> list[str]:
    script = (
        "import os, sys, time\n"
        f"time.sleep({sleep})\n"
        "print('job sees secret:', 'JOB_SECRET' in os.environ, flush=True)\n"
        f'print(\'BATON_RESULT: {{"rows": {rows}, "reconciled": {{}}, "ok": {str(code == 0).lower()}}}\', flush=True)\n'
        f"sys.exit({code})\n"
    )
    return ["python", "-c", script]


@pytest.fixture
def runner(docker_client: docker.DockerClient, python_image: str, monkeypatch: pytest.MonkeyPatch):
    project = f"baton-itest-{uuid.uuid4().hex[:8]}"
    for key, value in {
        "BATON_JOBS_IMAGE": python_image,
        "BATON_PROJECT": project,
        "BATON_JOB_ENV": "JOB_SECRET",
        "JOB_SECRET": "s3cret",
        "BATON_DOCKER_MOUNTS": "",
        "BATON_DOCKER_NETWORK": "",
    }.items():
        monkeypatch.setenv(key, value)
    ti = Ti("ingest_shop", f"scheduled__2026-11-25T00:15:00+00:00.{uuid.uuid4().hex[:6]}", "extract_load")
    name = container_name(project, ti.dag_id, ti.run_id, ti.task_id)

    def containers() -> list:
        return docker_client.containers.list(all=True, filters={"label": f"baton.project={project}"})

    def leftover(command: list[str]):  # what a try whose worker died leaves behind
        return docker_client.containers.run(
            python_image,
            command,
            name=name,
            detach=True,
            labels={"baton.project": project},
            environment={"JOB_SECRET": "x"},
        )

    yield python_image, ti, name, containers, leftover
    for c in containers():
        c.remove(force=True)


def _operator(command: list[str]) -> DockerJobOperator:
    return DockerJobOperator(task_id="extract_load", command=command)


def test_a_job_runs_in_a_named_container_that_is_removed(runner) -> None:
    _, ti, name, containers, _ = runner
    seen = []
    op = _operator(job(rows=7, sleep=1))
    worker = threading.Thread(target=lambda: seen.append(op.execute({"ti": ti})))
    worker.start()
    deadline = time.monotonic() + 30
    while not containers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [c.name for c in containers()] == [name]
    worker.join(60)
    assert seen == [{"rows": 7, "reconciled": {}, "ok": True}]
    assert containers() == []


def test_a_retry_follows_the_running_container_of_an_earlier_try(runner) -> None:
    _, ti, _, containers, leftover = runner
    leftover(job(rows=5, sleep=3))
    # This try would load 99 rows if it ran its own job: it must not.
    result = _operator(job(rows=99)).execute({"ti": ti})
    assert result["rows"] == 5
    assert containers() == []


def test_a_retry_replaces_an_ended_failed_container_and_counts_its_rows(runner) -> None:
    _, ti, _, containers, leftover = runner
    earlier = leftover(job(rows=3, code=1))
    earlier.wait(timeout=60)
    result = _operator(job(rows=7)).execute({"ti": ti})
    assert result["rows"] == 10 and result["rows_earlier_tries"] == 3
    assert containers() == []


def test_a_failed_job_is_final_on_exit_code_3_and_leaves_no_container(runner) -> None:
    _, ti, _, containers, _ = runner
    with pytest.raises(AirflowFailException, match="exited with code 3"):
        _operator(job(rows=0, code=3)).execute({"ti": ti})
    assert containers() == []  # no stopped container holding JOB_SECRET in its environment
    with pytest.raises(RuntimeError, match="exited with code 1"):
        _operator(job(rows=0, code=1)).execute({"ti": ti})
    assert containers() == []


def test_the_job_gets_the_named_secret_at_run_time(runner, capsys: pytest.CaptureFixture) -> None:
    _, ti, _, _, _ = runner
    op = _operator(job(rows=1))
    assert "s3cret" not in repr(op.env)
    op.execute({"ti": ti})
    assert "job sees secret: True" in capsys.readouterr().out  # the job's output is in the task log


def test_a_missing_jobs_image_fails_at_once_naming_it(runner, monkeypatch: pytest.MonkeyPatch) -> None:
    _, ti, _, containers, _ = runner
    monkeypatch.setenv("BATON_JOBS_IMAGE", "baton-itest/no-such-image:never")
    with pytest.raises(AirflowFailException, match="BATON_JOBS_IMAGE"):
        _operator(job(rows=1)).execute({"ti": ti})
    assert containers() == []


def test_a_job_past_its_memory_limit_fails_at_once_naming_the_limit(runner, monkeypatch) -> None:
    _, ti, name, containers, _ = runner
    monkeypatch.setenv("BATON_JOB_MEMORY", "64m")
    hog = ["python", "-c", "x = b'x' * (400 * 2**20); print(len(x))"]
    with pytest.raises(AirflowFailException) as failed:
        _operator(hog).execute({"ti": ti})
    message = str(failed.value)
    assert f"(container {name}) ran out of memory: its limit is 64m. Raise BATON_JOB_MEMORY" in message
    assert containers() == []


def test_a_stopped_job_is_retried_at_once(runner) -> None:
    """Exit 75 (the ingestion job stopped by SIGTERM at a batch boundary) and a container stopped
    with docker stop raise JobInterrupted, which the tasks' retry policy retries with no delay."""
    _, ti, name, containers, _ = runner
    with pytest.raises(JobInterrupted, match="exited with code 75"):
        _operator(job(rows=0, code=75)).execute({"ti": ti})
    op = _operator(["python", "-c", "import time; print('loading', flush=True); time.sleep(60)"])
    seen: list[BaseException] = []

    def run() -> None:
        try:
            op.execute({"ti": ti})
        except BaseException as exc:  # what the try raised is the result
            seen.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while not [c for c in containers() if c.status == "running"] and time.monotonic() < deadline:
        time.sleep(0.2)
    docker.from_env().containers.get(name).kill()  # what the OOM killer or `docker kill` does
    worker.join(60)
    assert len(seen) == 1 and isinstance(seen[0], JobInterrupted), seen
    assert "exited with code 137" in str(seen[0]) and "retried at once" in str(seen[0])
    assert containers() == []
