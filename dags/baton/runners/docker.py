"""The docker runner: a container of the jobs image on the local engine, named per task instance.

Built on the Docker SDK rather than the Docker provider's DockerOperator: what it needs is what that
operator does not do (a container that outlives the worker and is followed by the next try, no swap
beyond the memory limit, a stop grace period, a bounded output tail, a clear error instead of a pull
when the image is missing), so a subclass would have overridden all of it. The SDK is imported when
a task runs, not when a DAG file is parsed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from baton.config import ConfigError, DockerSettings, runner_settings
from baton.runners.base import JobOperator, baton_result, job_failed, job_result, out_of_memory

NAME_MAX = 128
OOM_EVENT_GRACE_SECONDS = 3.0


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


class DockerJobOperator(JobOperator):
    """Runs the job in a container of the jobs image (DockerSettings), named per task instance.

    One job container per task instance, whatever happens to the worker: a try first looks for the
    container an earlier try left (same name). Still running: this try follows it to its end; if
    it succeeded, its result is used and nothing runs again. Ended: its log goes to this task log,
    then it is removed and this try starts its own. Every container is removed once its log is
    read, failed or not, so no stopped container lingers with secrets in its environment.
    """

    ui_color = "#e0ecf8"

    def __init__(self, *, secrets: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
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
            return code, lines, self._oom_killed(name, code)
        finally:
            self._remove(name)

    def _oom_killed(self, container: str, code: int) -> bool:
        """Whether the OOM killer stopped the container. The engine learns of the OOM kill from an
        event that can arrive just after the exit: a SIGKILL exit (137) waits up to
        OOM_EVENT_GRACE_SECONDS for it before it counts as an interruption (`docker kill`, a
        stopped worker)."""
        deadline = time.monotonic() + (OOM_EVENT_GRACE_SECONDS if code == 137 else 0)
        while True:
            if self._client.inspect_container(container)["State"].get("OOMKilled"):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

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
            return code, lines, self._oom_killed(self._container, code)
        finally:
            self._remove(self._container)

    def _log_lines(self, chunks: Iterable[bytes | str]) -> list[str]:
        return self.log_lines(_split_lines(chunks))

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
