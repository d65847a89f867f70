"""The runner: "run this command in the jobs image" -> an Airflow operator, picked by BATON_RUNNER.

    docker      DockerJobOperator: a container of the jobs image on the local engine
    ecs         EcsJobOperator (EcsRunTaskOperator): the jobs task definition on ECS (Fargate)
    subprocess  SubprocessJobOperator: the CLIs on the machine the task runs on (tests, dev loops)

This module only builds operators. Where and how jobs run (image, mounts, cluster, ...) is read
from the worker's environment when a task runs (baton.config.runner_settings), so a DAG file parses
with no runner environment at all; a missing setting fails the task, naming the variable.

Every runner puts the job's output in the task log and fails the task when the job exits non-zero.
Exit code 2 (bad configuration) and 3 (bad data) fail it for good (no retry: it would not help); so
does a job killed for running out of memory (the message names its limit and the setting to raise).
A job that was stopped (exit 75: SIGTERM at a batch boundary; 137/143: killed; on ECS also a task
stopped by a Spot interruption) raises JobInterrupted, which the task's retry policy retries at
once: what it committed is kept, and its source's lock died with it. Any other code is retried per
baton.yml, after a growing delay. What the task returns (its XCom) is the job's result
only, never its log: the `BATON_RESULT: {json}` line the ingestion job ends with, else the rows
summed from the extractor's METRIC lines, else nothing.

Secrets never appear in DAG code: docker passes the variables named in BATON_JOB_ENV from the
worker's environment at run time; ECS task definitions carry their own; subprocess inherits the
worker's environment.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.definitions.retry_policy import ExceptionRetryPolicy, RetryAction, RetryRule
from airflow.sdk.exceptions import AirflowFailException

from baton.config import Config, ConfigError, DockerSettings, EcsSettings, SubprocessSettings, runner_settings

METRIC = re.compile(r"METRIC: (\{.*\})")
RESULT_PREFIX = "BATON_RESULT: "
# Exit codes of the jobs image that a retry cannot fix (meltano/bin/el.py).
PERMANENT_EXIT_CODES = {2: "bad configuration", 3: "bad data"}
# Exit codes of a job that was stopped rather than failed: 75 (el.py: SIGTERM, stopped at a batch
# boundary), 137 (SIGKILL), 143 (SIGTERM, a job that does not catch it).
INTERRUPTED_EXIT_CODES = {75: "stopped at a batch boundary", 137: "killed (SIGKILL)", 143: "stopped (SIGTERM)"}
TAIL_LINES = 15


class JobInterrupted(RuntimeError):
    """The job was stopped or killed from outside (docker stop/kill, ECS StopTask, a Spot
    interruption), not failed: retried at once (RETRY_AT_ONCE), within the task's retries."""


# Every job task's retry policy: an interrupted job goes again at once instead of after a delay.
RETRY_AT_ONCE = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=JobInterrupted,
            action=RetryAction.RETRY,
            retry_delay=timedelta(0),
            reason="the job was stopped, not failed: retrying at once",
        )
    ]
)


def out_of_memory(command: Sequence[str], limit: str, setting: str, where: str = "") -> AirflowFailException:
    """The final failure of a job the OOM killer stopped: names the job, its limit, the setting to raise."""
    return AirflowFailException(
        f"`{' '.join(command)}`{where} ran out of memory: its limit is {limit}. Raise {setting} "
        "(DuckDB follows the limit: BATON_DUCKDB_MEMORY_LIMIT is 75% of it and spills the rest to disk). "
        "Not retried: it would run out again"
    )


# --- the job's output -> its result --------------------------------------------------------------
def _lines(output: object) -> list[str]:
    if not output:
        return []
    return [str(line) for line in output] if isinstance(output, (list, tuple, deque)) else str(output).splitlines()


def rows_loaded(output: object) -> int | None:
    """Rows the extractor emitted, summed from its record_count metrics; None when unknown."""
    total, seen = 0, False
    for line in _lines(output):
        match = METRIC.search(line)
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


def baton_result(output: object) -> dict[str, Any] | None:
    """The last `BATON_RESULT: {json}` line of a job's output, parsed; None when there is none."""
    for line in reversed(_lines(output)):
        at = line.find(RESULT_PREFIX)
        if at < 0:
            continue
        try:
            value = json.loads(line[at + len(RESULT_PREFIX) :])
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def job_result(output: object) -> dict[str, Any] | None:
    """What a job task returns: its BATON_RESULT, else {"rows": n} from METRIC lines, else None."""
    result = baton_result(output)
    if result is not None:
        return result
    rows = rows_loaded(output)
    return {"rows": rows} if rows is not None else None


def job_failed(command: Sequence[str], code: int, tail: Iterable[str], where: str = "") -> Exception:
    """The exception for a job that exited with `code`: final for 2 and 3, JobInterrupted (retried
    at once) for 75, 137 and 143, retryable after a delay otherwise."""
    last = "\n".join(list(tail)[-TAIL_LINES:])
    message = f"`{' '.join(command)}` exited with code {code}{where}:\n{last}"
    if code in PERMANENT_EXIT_CODES:
        return AirflowFailException(f"{message}\n({PERMANENT_EXIT_CODES[code]}: not retried, a retry would not help)")
    if code in INTERRUPTED_EXIT_CODES:
        return JobInterrupted(f"{message}\n({INTERRUPTED_EXIT_CODES[code]}: retried at once)")
    return RuntimeError(message)


def _check_command(command: Sequence[str]) -> None:
    if not command or command[0] not in ("el", "meltano", "dbt", "state"):
        raise ValueError(f"the jobs image runs el, meltano, dbt or state commands, not {list(command)!r}")


# --- subprocess ----------------------------------------------------------------------------------
class SubprocessJobOperator(BaseOperator):
    """Runs the job here: `el`/`state` (meltano/bin/*.py with BATON_MELTANO_PYTHON) and `meltano` in
    the Meltano project, `dbt` in the dbt project (SubprocessSettings)."""

    template_fields: Sequence[str] = ("command", "env")
    ui_color = "#e8f0e0"

    def __init__(self, *, command: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.command = command
        self.env = env or {}

    @staticmethod
    def resolve(command: Sequence[str], s: SubprocessSettings) -> tuple[list[str], Path]:
        tool, *args = command
        if tool in ("el", "state"):  # meltano/bin/el.py, meltano/bin/state.py
            return [s.meltano_python, str(s.meltano_project / "bin" / f"{tool}.py"), *args], s.meltano_project
        if tool == "meltano":
            return [s.meltano_bin, *args], s.meltano_project
        # The dbt job (dbt/bin/dbt_job.py) runs dbt and classifies its failures, as in the jobs image.
        dbt = Path(shutil.which(s.dbt_bin) or s.dbt_bin)
        return [str(dbt.parent / "python"), str(s.dbt_project / "bin" / "dbt_job.py"), *args], s.dbt_project

    def execute(self, context: Any) -> dict[str, Any] | None:
        settings = runner_settings("subprocess")
        assert isinstance(settings, SubprocessSettings)
        cmd, cwd = self.resolve(self.command, settings)
        self.log.info("running in %s: %s", cwd, " ".join(cmd))
        tail: deque[str] = deque(maxlen=5000)
        with subprocess.Popen(
            cmd, cwd=cwd, env={**os.environ, **self.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                self.log.info("%s", line)
                tail.append(line)
        if proc.returncode != 0:
            raise job_failed(self.command, proc.returncode, tail, f" in {cwd}")
        return job_result(tail)


# --- docker --------------------------------------------------------------------------------------
NAME_MAX = 128


def container_name(project: str, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The job container's name for one task instance: the same for every try, unique per task
    instance, valid for Docker ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters)."""
    full = "-".join([project, dag_id, run_id, task_id, *([str(map_index)] if map_index >= 0 else [])])
    name = re.sub(r"[^a-zA-Z0-9_.-]", "_", full)
    if not name[0].isalnum():
        name = "j" + name
    if name == full and len(name) <= NAME_MAX:
        return name
    # Changed or long: a digest of the exact identity keeps two task instances apart.
    digest = hashlib.sha256(full.encode()).hexdigest()[:12]
    return f"{name[: NAME_MAX - len(digest) - 1]}-{digest}"


def _split_lines(chunks: Iterable[bytes | str]) -> Iterator[str]:
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else chunk
        *complete, buffer = buffer.split("\n")
        yield from (line.rstrip("\r") for line in complete)
    if buffer:
        yield buffer


class DockerJobOperator(BaseOperator):
    """Runs the job in a container of the jobs image (DockerSettings), named per task instance.

    One job container per task instance, whatever happens to the worker: a try first looks for the
    container an earlier try left (same name). Still running: this try follows it to its end; if
    it succeeded, its result is used and nothing runs again. Ended: its log goes to this task log,
    then it is removed and this try starts its own. Every container is removed once its log is
    read, failed or not, so no stopped container lingers with secrets in its environment.
    """

    template_fields: Sequence[str] = ("command", "env")
    ui_color = "#e0ecf8"

    def __init__(
        self, *, command: list[str], env: dict[str, str] | None = None, secrets: Sequence[str] = (), **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.command = command
        self.env = env or {}
        # The job's own secrets (a source's declaration), besides the platform's BATON_JOB_ENV.
        self.secrets = tuple(secrets)
        self._client: Any = None
        self._container: str | None = None
        self._grace = 30

    def _secrets(self, settings: DockerSettings) -> dict[str, str]:
        missing = [n for n in settings.job_env if n not in os.environ]
        if missing:
            raise ConfigError(f"BATON_JOB_ENV names {', '.join(missing)}, which this worker's environment lacks")
        undeclared = [n for n in self.secrets if not os.environ.get(n)]
        if undeclared:
            raise ConfigError(
                f"{self.dag_id} needs {', '.join(undeclared)} (its source declares it under baton.secrets), which this "
                "worker's environment lacks: put it in compose/.env (sandbox) or its Secrets Manager secret (AWS)"
            )
        return {n: os.environ[n] for n in (*settings.job_env, *self.secrets)}

    def client(self, settings: DockerSettings) -> Any:
        import docker

        return docker.APIClient(base_url=settings.url, version="auto")

    def execute(self, context: Any) -> dict[str, Any] | None:
        settings = runner_settings("docker")
        assert isinstance(settings, DockerSettings)
        secrets = self._secrets(settings)
        self._grace = settings.stop_grace_seconds
        ti = context["ti"]
        name = container_name(settings.project, ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1))
        self._client = self.client(settings)
        earlier_rows = 0
        earlier = self._finish_earlier_try(name)
        if earlier is not None:
            code, lines, _ = earlier
            if code == 0:
                self.log.info("the job container of an earlier try succeeded: using its result")
                return job_result(lines)
            self.log.warning("the job container of an earlier try exited with code %s; starting the job again", code)
            earlier_rows = (baton_result(lines) or {}).get("rows") or 0
        code, lines, oom_killed = self._run(name, settings, secrets)
        if oom_killed:
            limit = settings.memory or "the machine's memory (no limit set)"
            raise out_of_memory(self.command, limit, "BATON_JOB_MEMORY (settings.env)", f" (container {name})")
        if code != 0:
            raise job_failed(self.command, code, lines, f" (container {name})")
        result = job_result(lines)
        if result is not None and earlier_rows and isinstance(result.get("rows"), int):
            # Rows an interrupted earlier try loaded count for this cycle too.
            result = {**result, "rows": result["rows"] + earlier_rows, "rows_earlier_tries": earlier_rows}
        return result

    def _finish_earlier_try(self, name: str) -> tuple[int, list[str], bool] | None:
        """(exit code, output, OOM-killed) of the container an earlier try left, followed to its end
        and removed; None when there is none (or it never started)."""
        from docker.errors import NotFound

        try:
            state = self._client.inspect_container(name)["State"]
        except NotFound:
            return None
        self._container = name
        try:
            if state.get("Running"):
                self.log.info("container %s of an earlier try is still running: following it to its end", name)
                lines = self._log_lines(self._client.logs(name, stream=True, follow=True))
                code = int(self._client.wait(name)["StatusCode"])
            elif state.get("Status") == "created":  # never started: nothing to read
                self.log.info("container %s of an earlier try never started: replacing it", name)
                return None
            else:
                self.log.info("container %s of an earlier try has ended (code %s): its output", name, state["ExitCode"])
                lines = self._log_lines(self._client.logs(name, stream=True, follow=False))
                code = int(state["ExitCode"])
            return code, lines, self._oom_killed(name)
        finally:
            self._remove(name)

    def _oom_killed(self, container: str) -> bool:
        return bool(self._client.inspect_container(container)["State"].get("OOMKilled"))

    def _run(self, name: str, s: DockerSettings, secrets: dict[str, str]) -> tuple[int, list[str], bool]:
        from docker.types import Mount

        mounts = [
            Mount(
                target=m.target,
                source=m.source,
                type="bind" if m.source.startswith("/") else "volume",
                read_only=m.read_only,
            )
            for m in s.mounts
        ]
        from docker.errors import ImageNotFound

        try:
            self._client.inspect_image(s.image)
        except ImageNotFound:
            raise AirflowFailException(
                f"the jobs image {s.image} (BATON_JOBS_IMAGE) is not on the Docker engine at {s.url}: "
                "build it (make jobs-image) or pull it"
            ) from None
        container = self._client.create_container(
            image=s.image,
            command=list(self.command),
            name=name,
            # BATON_JOB_NAME: how another run of the same source names this one while it waits for it.
            environment={**self.env, **secrets, "BATON_JOB_NAME": name},
            # `make down` finds containers left by a dead worker by the project label.
            labels={"baton.project": s.project, "baton.task": f"{self.dag_id}.{self.task_id}"},
            # The memory limit bounds the job (no swap beyond it); the image derives DuckDB's from it.
            host_config=self._client.create_host_config(
                auto_remove=False,
                mounts=mounts,
                network_mode=s.network,
                mem_limit=s.memory,
                memswap_limit=s.memory,
            ),
        )
        self._container = container["Id"]
        try:
            self.log.info("container %s (%s): %s", name, s.image, " ".join(self.command))
            stream = self._client.attach(container=self._container, stdout=True, stderr=True, stream=True, logs=True)
            self._client.start(self._container)
            lines = self._log_lines(stream)
            code = int(self._client.wait(self._container)["StatusCode"])
            return code, lines, self._oom_killed(self._container)
        finally:
            self._remove(self._container)

    def _log_lines(self, chunks: Iterable[bytes | str]) -> list[str]:
        tail: deque[str] = deque(maxlen=5000)
        for line in _split_lines(chunks):
            self.log.info("%s", line)
            tail.append(line)
        return list(tail)

    def _remove(self, container: str) -> None:
        from docker.errors import NotFound

        with contextlib.suppress(NotFound):
            self._client.remove_container(container, force=True)
        self._container = None

    def on_kill(self) -> None:
        if self._client is not None and self._container is not None:
            self.log.info("stopping job container %s", self._container)
            try:
                self._client.stop(self._container, timeout=self._grace)
            finally:
                self._remove(self._container)


# --- ecs -----------------------------------------------------------------------------------------
@cache
def ecs_operator_class() -> type[BaseOperator]:
    """EcsJobOperator, built on first use so that other runners never import the amazon provider."""
    from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator
    from airflow.sdk.exceptions import AirflowException

    class EcsJobOperator(EcsRunTaskOperator):
        """EcsRunTaskOperator whose cluster, task definition, network and logs come from EcsSettings
        when it runs (and again when it resumes from the triggerer), and which returns the job's
        result read from its last lines in CloudWatch. A retry first looks for the ECS task an earlier
        try of the same task instance left running (startedBy is derived from dag, run and task)
        and follows it instead of starting a second one next to it."""

        def __init__(self, *, command: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> None:
            super().__init__(cluster="", task_definition="", overrides={}, reattach=True, **kwargs)
            self.command, self.env = command, env or {}

        def apply_settings(self) -> None:
            s = runner_settings("ecs")
            assert isinstance(s, EcsSettings)
            self.cluster, self.task_definition = s.cluster, s.task_definition
            self.overrides = {
                "containerOverrides": [
                    {
                        "name": s.container,
                        "command": list(self.command),
                        "environment": [{"name": k, "value": v} for k, v in sorted(self.env.items())],
                    }
                ]
            }
            self.capacity_provider_strategy = [{"capacityProvider": s.capacity_provider}]
            self.network_configuration = {
                "awsvpcConfiguration": {
                    "subnets": list(s.subnets),
                    "securityGroups": list(s.security_groups),
                    "assignPublicIp": "DISABLED",
                }
            }
            self.awslogs_group = s.log_group
            self.awslogs_stream_prefix = f"{s.log_stream_prefix}/{s.container}"
            # Named, so the log stream is known at once (unnamed, the operator polls DescribeTasks for it).
            self.container_name = s.container
            self.awslogs_region = s.region
            self.deferrable = s.deferrable

        def execute(self, context: Any) -> Any:
            self.apply_settings()
            super().execute(context)  # defers when deferrable; else waits and checks the exit code
            return self.result_from_logs()

        def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
            self.apply_settings()
            super().execute_complete(context, event)
            return self.result_from_logs()

        def _check_success_task(self) -> None:
            where = f" (ECS task {self.arn})"
            try:
                super()._check_success_task()
            except AirflowException as exc:
                stopped = self.stopped()
                if "OutOfMemory" in stopped["reason"]:
                    limit = f"{stopped['memory']} MiB" if stopped["memory"] else "the task's memory"
                    raise out_of_memory(self.command, limit, "jobs_memory (Terraform)", where) from exc
                code = stopped["exit_code"]
                if stopped["spot"] and code not in PERMANENT_EXIT_CODES:
                    raise self.interrupted(code, where) from exc
                if code is not None and (code in PERMANENT_EXIT_CODES or code in INTERRUPTED_EXIT_CODES):
                    raise job_failed(self.command, code, [str(exc)], where) from exc
                raise
            stopped = self.stopped()
            if stopped["spot"] and not stopped["exited_ok"]:  # stopped before its container ended by itself
                raise self.interrupted(stopped["exit_code"], where)

        def interrupted(self, code: int | None, where: str) -> JobInterrupted:
            return JobInterrupted(
                f"`{' '.join(self.command)}`{where} was stopped by a Spot interruption (exit code {code}): "
                "what it committed is kept; retried at once"
            )

        def stopped(self) -> dict[str, Any]:
            """How the task ended: spot (stopCode SpotInterruption, or its stoppedReason), the job
            container's exit code and reason (e.g. OutOfMemoryError), whether it exited 0 by itself,
            the task's memory (MiB)."""
            found: dict[str, Any] = {"spot": False, "exit_code": None, "exited_ok": False, "reason": "", "memory": None}
            if not self.arn:
                return found
            for task in self.client.describe_tasks(cluster=self.cluster, tasks=[self.arn]).get("tasks", []):
                found["spot"] = task.get("stopCode") == "SpotInterruption" or bool(
                    re.search(r"Spot Task was interrupted", task.get("stoppedReason") or "", re.IGNORECASE)
                )
                found["memory"] = task.get("memory")
                for container in task.get("containers", []):
                    if container.get("name") == self.container_name:
                        if container.get("exitCode") is not None:
                            found["exit_code"] = int(container["exitCode"])
                        found["exited_ok"] = container.get("lastStatus") == "STOPPED" and found["exit_code"] == 0
                        found["reason"] = container.get("reason") or ""
            return found

        def exit_code(self) -> int | None:
            return self.stopped()["exit_code"]

        def last_log_lines(self, count: int = 50) -> list[str]:
            logs = AwsLogsHook(
                aws_conn_id=self.aws_conn_id, region_name=self.resolve_awslogs_region(), verify=self.verify
            ).conn
            events = logs.get_log_events(
                logGroupName=self.awslogs_group,
                logStreamName=self._get_logs_stream_name(),
                startFromHead=False,
                limit=count,
            ).get("events", [])
            return [e.get("message", "") for e in events]

        def result_from_logs(self) -> dict[str, Any] | None:
            if not self.arn:
                return None
            try:
                return job_result(self.last_log_lines())
            except Exception as exc:  # the job succeeded; a missing figure must not fail it
                self.log.warning("could not read the job's result from CloudWatch: %s", exc)
                return None

    return EcsJobOperator


# --- the factory ---------------------------------------------------------------------------------
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
    _check_command(command)
    kwargs.setdefault("retry_policy", RETRY_AT_ONCE)
    if config.runner == "docker":
        return DockerJobOperator(task_id=task_id, command=command, env=env or {}, secrets=secrets, **kwargs)
    cls = SubprocessJobOperator if config.runner == "subprocess" else ecs_operator_class()
    return cls(task_id=task_id, command=command, env=env or {}, **kwargs)
