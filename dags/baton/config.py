"""Settings: dags/baton.yml, overridden by environment variables. Validated with clear errors.

Two kinds, read at two moments:
  load_config()       what shapes the DAGs (baton.yml, BATON_RUNNER, the warehouse pool); read when
                      a DAG file is parsed, so it needs no runner environment at all
  runner_settings()   where and how jobs run (DockerSettings, EcsSettings, SubprocessSettings), read
                      from the worker's environment when a task runs; an error names the variable
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DAGS_DIR = Path(__file__).resolve().parent.parent
# The kit's constants (BATON_WAREHOUSE_POOL, BATON_JOBS_IMAGE, ...); reachable in a checkout only.
SETTINGS_FILE = DAGS_DIR.parent / "settings.env"
DBT_MODES = ("monolith", "multi")
GATING_POLICIES = ("wait", "fail", "warn")
RUNNERS = ("docker", "ecs", "subprocess")
WAREHOUSES = ("files", "lake")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it and where it came from."""


@dataclass(frozen=True)
class JobPolicy:
    """How Airflow retries a job task (baton.yml `ingestion:` / `dbt:`). Delays grow exponentially
    from retry_delay_seconds up to max_retry_delay_seconds; a job that exits with 2 (bad config) or
    3 (bad data) is not retried."""

    retries: int
    retry_delay_seconds: int
    max_retry_delay_seconds: int
    timeout_minutes: int


@dataclass(frozen=True)
class Config:
    owner: str
    cycle_schedule: str
    timezone: str
    dbt_mode: str
    dbt: JobPolicy
    ingestion: JobPolicy
    gating_policy: str
    gating_wait_timeout_minutes: int
    gating_poke_seconds: int
    runner: str
    metadata_dir: Path
    # The pool of analytics.duckdb writers (settings.env); None when neither the environment nor
    # settings.env names it: dbt tasks then fail when they run, naming BATON_WAREHOUSE_POOL.
    warehouse_pool: str | None
    # BATON_WAREHOUSE (settings.env): `files` (DuckDB files, one writer per file: dbt runs take a slot of the
    # pool) or `lake` (DuckLake: many writers, no pool).
    warehouse: str = "files"
    # BATON_LAKE_RETENTION_DAYS (settings.env): lake snapshots older than this are expired (lake_maintenance).
    lake_retention_days: int = 30


def _get(data: dict[str, Any], dotted: str, source: str, kind: type, default: Any = None) -> Any:
    value: Any = data
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    if value is None:
        if default is None:
            raise ConfigError(f"{source}: '{dotted}' is missing")
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ConfigError(f"{source}: '{dotted}' must be a {kind.__name__}, got {value!r}")
    return value


def _choice(name: str, value: str, choices: tuple[str, ...], source: str) -> str:
    if value not in choices:
        raise ConfigError(f"{source}: {name} is {value!r}; choose one of {', '.join(choices)}")
    return value


def read_settings_file(path: Path = SETTINGS_FILE) -> dict[str, str]:
    """KEY=VALUE lines of settings.env; {} where the file is not reachable (an image, a DAG bundle)."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def kit_setting(name: str, env: Mapping[str, str], settings_file: Path = SETTINGS_FILE) -> str | None:
    """A kit constant: the environment, else settings.env where reachable, else None."""
    return env.get(name) or read_settings_file(settings_file).get(name) or None


def _job_policy(data: dict[str, Any], section: str, src: str) -> JobPolicy:
    policy = JobPolicy(
        retries=_get(data, f"{section}.retries", src, int),
        retry_delay_seconds=_get(data, f"{section}.retry_delay_seconds", src, int),
        max_retry_delay_seconds=_get(data, f"{section}.max_retry_delay_seconds", src, int),
        timeout_minutes=_get(data, f"{section}.timeout_minutes", src, int),
    )
    if policy.retries < 0 or policy.retry_delay_seconds < 1 or policy.timeout_minutes < 1:
        raise ConfigError(f"{src}: '{section}' needs retries >= 0, retry_delay_seconds >= 1, timeout_minutes >= 1")
    if policy.max_retry_delay_seconds < policy.retry_delay_seconds:
        raise ConfigError(f"{src}: '{section}.max_retry_delay_seconds' is below its retry_delay_seconds")
    return policy


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    env = os.environ if environ is None else environ
    path = Path(env.get("BATON_CONFIG", path or DAGS_DIR / "baton.yml"))
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist (set BATON_CONFIG to the orchestration config)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    src = str(path)

    def override(var: str, dotted: str, choices: tuple[str, ...] | None = None, default: str | None = None) -> str:
        if env.get(var):
            value, where = env[var], f"environment variable {var}"
        else:
            value, where = _get(data, dotted, src, str, default), src
        return _choice(f"'{dotted}'", value, choices, where) if choices else value

    return Config(
        owner=_get(data, "owner", src, str),
        cycle_schedule=_get(data, "cycle.schedule", src, str),
        timezone=override("BATON_TIMEZONE", "cycle.timezone"),
        dbt_mode=override("BATON_DBT_MODE", "dbt.mode", DBT_MODES),
        dbt=_job_policy(data, "dbt", src),
        ingestion=_job_policy(data, "ingestion", src),
        gating_policy=override("BATON_GATING", "gating.policy", GATING_POLICIES),
        gating_wait_timeout_minutes=_get(data, "gating.wait_timeout_minutes", src, int),
        gating_poke_seconds=_get(data, "gating.poke_seconds", src, int),
        runner=_choice("BATON_RUNNER", env.get("BATON_RUNNER", "docker"), RUNNERS, "environment variable BATON_RUNNER"),
        metadata_dir=Path(env.get("BATON_METADATA_DIR", DAGS_DIR / "baked")),
        warehouse_pool=kit_setting("BATON_WAREHOUSE_POOL", env),
        warehouse=_choice(
            "BATON_WAREHOUSE", kit_setting("BATON_WAREHOUSE", env) or "files", WAREHOUSES, "BATON_WAREHOUSE"
        ),
        lake_retention_days=_retention_days(kit_setting("BATON_LAKE_RETENTION_DAYS", env)),
    )


def _retention_days(value: str | None) -> int:
    if value is None:
        return 30
    if not value.strip().isdigit() or int(value) < 1:
        raise ConfigError(f"BATON_LAKE_RETENTION_DAYS is {value!r}: set a whole number of days, at least 1")
    return int(value)


# --- runner settings: read when a task runs ------------------------------------------------------
@dataclass(frozen=True)
class MountSpec:
    source: str
    target: str
    read_only: bool


@dataclass(frozen=True)
class DockerSettings:
    image: str  # BATON_JOBS_IMAGE
    url: str  # BATON_DOCKER_URL
    network: str | None  # BATON_DOCKER_NETWORK
    mounts: tuple[MountSpec, ...]  # BATON_DOCKER_MOUNTS: SRC:TARGET[:ro],...
    job_env: tuple[str, ...]  # BATON_JOB_ENV: names of worker variables passed to jobs
    project: str  # BATON_PROJECT: label and name prefix of job containers
    stop_grace_seconds: int  # BATON_DOCKER_STOP_GRACE_SECONDS: SIGTERM -> SIGKILL when a job is stopped


@dataclass(frozen=True)
class EcsSettings:
    cluster: str  # BATON_ECS_CLUSTER
    task_definition: str  # BATON_ECS_TASK_DEFINITION
    container: str  # BATON_ECS_CONTAINER
    subnets: tuple[str, ...]  # BATON_ECS_SUBNETS
    security_groups: tuple[str, ...]  # BATON_ECS_SECURITY_GROUPS
    log_group: str  # BATON_ECS_LOG_GROUP
    log_stream_prefix: str  # BATON_ECS_LOG_STREAM_PREFIX
    capacity_provider: str  # BATON_ECS_CAPACITY_PROVIDER
    region: str | None  # AWS_REGION / AWS_DEFAULT_REGION
    deferrable: bool  # BATON_ECS_DEFERRABLE


@dataclass(frozen=True)
class SubprocessSettings:
    meltano_bin: str  # BATON_MELTANO_BIN
    dbt_bin: str  # BATON_DBT_BIN
    meltano_python: str  # BATON_MELTANO_PYTHON: runs meltano/bin/{el,state}.py
    meltano_project: Path  # BATON_MELTANO_PROJECT
    dbt_project: Path  # BATON_DBT_PROJECT


RunnerSettings = DockerSettings | EcsSettings | SubprocessSettings


class _Env:
    def __init__(self, env: Mapping[str, str], runner: str) -> None:
        self.env, self.runner = env, runner

    def required(self, name: str, default: str | None = None) -> str:
        value = (self.env.get(name) or default or "").strip()
        if not value:
            raise ConfigError(f"environment variable {name} is required by BATON_RUNNER={self.runner} (it is not set)")
        return value

    def optional(self, name: str, default: str | None = None) -> str | None:
        return (self.env.get(name) or "").strip() or default

    def listed(self, name: str, required: bool = False) -> tuple[str, ...]:
        raw = self.required(name) if required else self.optional(name, "")
        items = tuple(p.strip() for p in (raw or "").split(",") if p.strip())
        if required and not items:
            raise ConfigError(
                f"environment variable {name} is required by BATON_RUNNER={self.runner} (it lists nothing)"
            )
        return items

    def integer(self, name: str, default: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"environment variable {name} must be a whole number, got {raw!r}") from None

    def boolean(self, name: str, default: bool) -> bool:
        raw = (self.optional(name) or str(default)).lower()
        if raw not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"environment variable {name} must be true or false, got {raw!r}")
        return raw in ("true", "1", "yes")


def _mounts(specs: tuple[str, ...]) -> tuple[MountSpec, ...]:
    mounts = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/") or parts[2:] not in ([], ["ro"]):
            raise ConfigError(f"environment variable BATON_DOCKER_MOUNTS: {spec!r} is not SOURCE:/TARGET[:ro]")
        mounts.append(MountSpec(parts[0], parts[1], parts[2:] == ["ro"]))
    return tuple(mounts)


def runner_settings(runner: str, environ: Mapping[str, str] | None = None) -> RunnerSettings:
    """The settings of `runner` from the worker's environment, validated; ConfigError names the variable."""
    e = _Env(os.environ if environ is None else environ, runner)
    if runner == "docker":
        job_env = e.listed("BATON_JOB_ENV")
        bad = [n for n in job_env if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]
        if bad:
            raise ConfigError(f"environment variable BATON_JOB_ENV: {', '.join(bad)} is not a variable name")
        return DockerSettings(
            image=e.required("BATON_JOBS_IMAGE"),
            url=e.optional("BATON_DOCKER_URL", "unix://var/run/docker.sock") or "",
            network=e.optional("BATON_DOCKER_NETWORK"),
            mounts=_mounts(e.listed("BATON_DOCKER_MOUNTS")),
            job_env=job_env,
            project=e.required("BATON_PROJECT"),
            stop_grace_seconds=e.integer("BATON_DOCKER_STOP_GRACE_SECONDS", 30),
        )
    if runner == "ecs":
        return EcsSettings(
            cluster=e.required("BATON_ECS_CLUSTER"),
            task_definition=e.required("BATON_ECS_TASK_DEFINITION"),
            container=e.required("BATON_ECS_CONTAINER"),
            subnets=e.listed("BATON_ECS_SUBNETS", required=True),
            security_groups=e.listed("BATON_ECS_SECURITY_GROUPS", required=True),
            log_group=e.required("BATON_ECS_LOG_GROUP"),
            log_stream_prefix=e.optional("BATON_ECS_LOG_STREAM_PREFIX", "jobs") or "jobs",
            capacity_provider=e.optional("BATON_ECS_CAPACITY_PROVIDER", "FARGATE_SPOT") or "FARGATE_SPOT",
            region=e.optional("AWS_REGION") or e.optional("AWS_DEFAULT_REGION"),
            deferrable=e.boolean("BATON_ECS_DEFERRABLE", True),
        )
    if runner == "subprocess":
        import sys

        return SubprocessSettings(
            meltano_bin=e.optional("BATON_MELTANO_BIN", "meltano") or "meltano",
            dbt_bin=e.optional("BATON_DBT_BIN", "dbt") or "dbt",
            meltano_python=e.optional("BATON_MELTANO_PYTHON", sys.executable) or sys.executable,
            meltano_project=Path(e.optional("BATON_MELTANO_PROJECT") or DAGS_DIR.parent / "meltano"),
            dbt_project=Path(e.optional("BATON_DBT_PROJECT") or DAGS_DIR.parent / "dbt"),
        )
    raise ConfigError(f"environment variable BATON_RUNNER is {runner!r}; choose one of {', '.join(RUNNERS)}")
