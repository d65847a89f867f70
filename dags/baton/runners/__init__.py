"""The runner: "run this command in the jobs image" -> an Airflow operator, picked by BATON_RUNNER.

    docker      DockerJobOperator (runners/docker.py): a container of the jobs image on the local engine
    ecs         EcsJobOperator (runners/ecs.py, EcsRunTaskOperator): the jobs task definition on ECS
    subprocess  SubprocessJobOperator (runners/subprocess.py): the CLIs on the machine the task runs on
                (tests, dev loops)

This package only builds operators. Where and how jobs run (image, mounts, cluster, ...) is read
from the worker's environment when a task runs (baton.config.runner_settings), so a DAG file parses
with no runner environment at all; a missing setting fails the task, naming the variable. Only the
picked runner's module is imported: a DAG file parses without the Docker SDK or the amazon provider
unless the runner needs it.

Every runner puts the job's output in the task log and fails the task when the job exits non-zero
(runners/base.py). Exit code 2 (bad configuration) and 3 (bad data) fail it for good (no retry: it
would not help); so does a job killed for running out of memory (the message names its limit and
the setting to raise). A job that was stopped (exit 75: SIGTERM at a batch boundary; 137/143:
killed; on ECS also a task stopped by a Spot interruption) raises JobInterrupted, which the task's
retry policy retries at once: what it committed is kept, and its source's lock died with it. Any
other code is retried per baton.yml, after a growing delay. What the task returns (its XCom) is the
job's result only, never its log: the `BATON_RESULT: {json}` line the ingestion job ends with, else
the rows summed from the extractor's METRIC lines, else nothing.

Secrets never appear in DAG code: docker passes the variables named in BATON_JOB_ENV from the
worker's environment at run time; ECS task definitions carry their own; subprocess inherits the
worker's environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import Any

from airflow.sdk import BaseOperator

from baton.config import Config
from baton.runners.base import RETRY_AT_ONCE, JobInterrupted, baton_result, check_command, job_result, rows_loaded

__all__ = ["RETRY_AT_ONCE", "JobInterrupted", "baton_result", "job_operator", "job_result", "rows_loaded"]

# BATON_RUNNER -> the module and class of its operator, imported when a DAG file uses it.
OPERATORS = {
    "docker": ("baton.runners.docker", "DockerJobOperator"),
    "ecs": ("baton.runners.ecs", "EcsJobOperator"),
    "subprocess": ("baton.runners.subprocess", "SubprocessJobOperator"),
}


def operator_class(runner: str) -> type[BaseOperator]:
    module, name = OPERATORS[runner]
    return getattr(import_module(module), name)


def job_operator(
    task_id: str,
    command: list[str],
    config: Config,
    env: dict[str, str] | None = None,
    secrets: Sequence[str] = (),
    **kwargs: Any,
) -> BaseOperator:
    """The operator that runs `command` (el / meltano / dbt / state ...) in the jobs image, per BATON_RUNNER.

    `secrets` names the environment variables the job needs beyond the platform's (a source's
    declaration): the docker runner passes them from the worker's environment; an ECS task
    definition carries them itself (Terraform derives them from the same declaration); the
    subprocess runner inherits the whole environment.
    """
    check_command(command)
    kwargs.setdefault("retry_policy", RETRY_AT_ONCE)
    if config.runner == "docker":
        kwargs["secrets"] = secrets
    return operator_class(config.runner)(task_id=task_id, command=command, env=env or {}, **kwargs)
