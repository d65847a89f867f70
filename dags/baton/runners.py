"""The runner: "run this command in the jobs image" -> an Airflow operator, picked by BATON_RUNNER.

    docker      DockerOperator on the local engine: jobs image, warehouse mounts, compose network
    ecs         EcsRunTaskOperator: the jobs task definition on the ECS cluster (Fargate)
    subprocess  the CLIs on the machine the task runs on (tests, dev loops)

Every runner fails the task when the job exits non-zero and puts the job's output in the task log.
Secrets never appear in DAG code: docker passes the variables named in BATON_JOB_ENV from the
worker's environment at run time (not parse time); ECS task definitions carry their own secrets;
subprocess inherits the worker's environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from baton.config import DAGS_DIR, Config, ConfigError

METRIC = re.compile(r"METRIC: (\{.*\})")


def rows_loaded(output: object) -> int | None:
    """Rows the extractor emitted, summed from its record_count metrics; None when unknown."""
    if not output:
        return None
    lines = output if isinstance(output, list) else str(output).splitlines()
    total, seen = 0, False
    for line in lines:
        match = METRIC.search(str(line))
        if not match:
            continue
        try:
            metric = json.loads(match.group(1))
        except json.JSONDecodeError:
            continue
        if metric.get("metric") == "record_count":
            total += int(metric.get("value", 0))
            seen = True
    return total if seen else None


def _setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise ConfigError(f"environment variable {name} is required by BATON_RUNNER={os.environ.get('BATON_RUNNER')}")
    return value


class SubprocessJobOperator(BaseOperator):
    """Runs `meltano ...` / `state ...` in the Meltano project or `dbt ...` in the dbt project, here.

    BATON_MELTANO_BIN / BATON_DBT_BIN name the executables (default: on PATH) and
    BATON_MELTANO_PROJECT / BATON_DBT_PROJECT the project folders (default: next to dags/).
    """

    template_fields: Sequence[str] = ("command", "env")
    ui_color = "#e8f0e0"

    def __init__(self, *, command: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.command = command
        self.env = env or {}

    def _resolve(self) -> tuple[list[str], Path]:
        tool, *args = self.command
        if tool not in ("meltano", "dbt", "state"):
            raise ValueError(f"the jobs image runs meltano, dbt or state commands, not {tool!r}")
        if tool == "state":  # meltano/bin/state.py: guarded state operations, stdlib only
            project = Path(os.environ.get("BATON_MELTANO_PROJECT", DAGS_DIR.parent / "meltano"))
            return [sys.executable, str(project / "bin" / "state.py"), *args], project
        upper = tool.upper()
        binary = os.environ.get(f"BATON_{upper}_BIN", tool)
        project = Path(os.environ.get(f"BATON_{upper}_PROJECT", DAGS_DIR.parent / tool))
        return [binary, *args], project

    def execute(self, context: Any) -> list[str]:
        cmd, cwd = self._resolve()
        self.log.info("running in %s: %s", cwd, " ".join(cmd))
        tail: deque[str] = deque(maxlen=2000)
        with subprocess.Popen(
            cmd,
            cwd=cwd,
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                self.log.info("%s", line)
                tail.append(line)
        if proc.returncode != 0:
            last = "\n".join(list(tail)[-15:])
            raise RuntimeError(f"`{' '.join(self.command)}` exited with code {proc.returncode} in {cwd}:\n{last}")
        return list(tail)


def _docker_operator(task_id: str, command: list[str], env: dict[str, str], **kwargs: Any) -> BaseOperator:
    from airflow.providers.docker.operators.docker import DockerOperator
    from docker.types import Mount

    class DockerJobOperator(DockerOperator):
        """DockerOperator whose secrets are read from the worker's environment when it runs."""

        def execute(self, context: Any) -> Any:
            names = [n.strip() for n in os.environ.get("BATON_JOB_ENV", "").split(",") if n.strip()]
            missing = [n for n in names if n not in os.environ]
            if missing:
                raise ConfigError(f"BATON_JOB_ENV names {', '.join(missing)}, which this worker's environment lacks")
            # DockerOperator reads private_environment from this attribute when it creates the container.
            self._private_environment = {n: os.environ[n] for n in names}
            return super().execute(context)

    mounts = []
    for spec in filter(None, (s.strip() for s in os.environ.get("BATON_DOCKER_MOUNTS", "").split(","))):
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise ConfigError(f"BATON_DOCKER_MOUNTS: {spec!r} is not SOURCE:TARGET[:ro]")
        source, target = parts[0], parts[1]
        mounts.append(
            Mount(
                target=target,
                source=source,
                type="bind" if source.startswith("/") else "volume",
                read_only=len(parts) == 3 and parts[2] == "ro",
            )
        )
    return DockerJobOperator(
        task_id=task_id,
        image=_setting("BATON_JOBS_IMAGE", "baton/jobs:local"),
        command=command,
        environment=env,
        network_mode=os.environ.get("BATON_DOCKER_NETWORK") or None,
        docker_url=os.environ.get("BATON_DOCKER_URL", "unix://var/run/docker.sock"),
        mounts=mounts,
        mount_tmp_dir=False,
        auto_remove="success",
        # `make down` finds job containers left by failed runs by this label.
        labels={"baton.project": os.environ.get("BATON_PROJECT", "baton")},
        xcom_all=True,
        **kwargs,
    )


def _ecs_operator(task_id: str, command: list[str], env: dict[str, str], **kwargs: Any) -> BaseOperator:
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

    container = _setting("BATON_ECS_CONTAINER", "jobs")
    return EcsRunTaskOperator(
        task_id=task_id,
        cluster=_setting("BATON_ECS_CLUSTER"),
        task_definition=_setting("BATON_ECS_TASK_DEFINITION"),
        overrides={
            "containerOverrides": [
                {
                    "name": container,
                    "command": command,
                    "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
                }
            ]
        },
        capacity_provider_strategy=[{"capacityProvider": _setting("BATON_ECS_CAPACITY_PROVIDER", "FARGATE_SPOT")}],
        network_configuration={
            "awsvpcConfiguration": {
                "subnets": _setting("BATON_ECS_SUBNETS").split(","),
                "securityGroups": _setting("BATON_ECS_SECURITY_GROUPS").split(","),
                "assignPublicIp": "DISABLED",
            }
        },
        awslogs_group=_setting("BATON_ECS_LOG_GROUP"),
        awslogs_stream_prefix=f"{_setting('BATON_ECS_LOG_STREAM_PREFIX', 'jobs')}/{container}",
        # Named, so the log stream is known at once (unnamed, the operator polls DescribeTasks for it).
        container_name=container,
        awslogs_region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        deferrable=os.environ.get("BATON_ECS_DEFERRABLE", "true").lower() == "true",
        **kwargs,
    )


def job_operator(
    task_id: str, command: list[str], config: Config, env: dict[str, str] | None = None, **kwargs: Any
) -> BaseOperator:
    """The operator that runs `command` (meltano ... / dbt ...) in the jobs image, per BATON_RUNNER."""
    env = env or {}
    if config.runner == "subprocess":
        return SubprocessJobOperator(task_id=task_id, command=command, env=env, **kwargs)
    if config.runner == "docker":
        return _docker_operator(task_id, command, env, **kwargs)
    return _ecs_operator(task_id, command, env, **kwargs)
