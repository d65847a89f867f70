"""The ECS runner: the jobs task definition on ECS (Fargate), through the amazon provider's
EcsRunTaskOperator (deferrable). Imported only when BATON_RUNNER is ecs: the provider takes about
as long to import as the whole baton package, and other runners' DAG files never need it."""

from __future__ import annotations

import re
from typing import Any

from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook
from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator
from airflow.sdk.exceptions import AirflowException
from baton_contract.job import PERMANENT_EXIT_CODES

from baton.config import EcsSettings, runner_settings
from baton.runners.base import INTERRUPTED_EXIT_CODES, JobInterrupted, job_failed, job_result, out_of_memory


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
                raise out_of_memory(self.command, limit, "jobs.memory (Terraform, envs/<env>.tfvars)", where) from exc
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
