"""Settings: dags/baton.yml, overridden by environment variables. Validated with pydantic; an error
names the key and where it came from (the file, or the environment variable).

Two kinds, read at two moments:
  load_config()       what shapes the DAGs (baton.yml, BATON_RUNNER, the warehouse pool); read when
                      a DAG file is parsed, so it needs no runner environment at all
  runner_settings()   where and how jobs run (DockerSettings, EcsSettings, SubprocessSettings), read
                      from the worker's environment when a task runs; an error names the variable

Both environment readers are pydantic-settings models whose every field names its variable.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

import yaml
from baton_contract.settings import setting
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict

DAGS_DIR = Path(__file__).resolve().parent.parent
# The kit's constants (BATON_WAREHOUSE_POOL, BATON_JOBS_IMAGE, ...); reachable in a checkout only.
SETTINGS_FILE = DAGS_DIR.parent / "settings.env"
DbtMode = Literal["monolith", "multi"]
GatingPolicy = Literal["wait", "fail", "warn"]
Runner = Literal["docker", "ecs", "subprocess"]
Warehouse = Literal["files", "lake"]
DBT_MODES, GATING_POLICIES, RUNNERS = get_args(DbtMode), get_args(GatingPolicy), get_args(Runner)
WAREHOUSES = get_args(Warehouse)
KINDS = {"int_type": "int", "string_type": "str", "model_type": "mapping", "dict_type": "mapping"}


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it and where it came from."""


# --- baton.yml -----------------------------------------------------------------------------------
class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")


class JobPolicy(_Section):
    """How Airflow retries a job task (baton.yml `ingestion:` / `dbt:`). Delays grow exponentially
    from retry_delay_seconds up to max_retry_delay_seconds; a job that exits with 2 (bad config) or
    3 (bad data) is not retried."""

    retries: StrictInt
    retry_delay_seconds: StrictInt
    max_retry_delay_seconds: StrictInt
    timeout_minutes: StrictInt

    @field_validator("max_retry_delay_seconds")
    @classmethod
    def _not_below_the_first_delay(cls, value: int, info: ValidationInfo) -> int:
        if value < info.data.get("retry_delay_seconds", value):
            raise ValueError("is below its retry_delay_seconds")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> JobPolicy:
        if self.retries < 0 or self.retry_delay_seconds < 1 or self.timeout_minutes < 1:
            raise ValueError("needs retries >= 0, retry_delay_seconds >= 1, timeout_minutes >= 1")
        return self


class _Cycle(_Section):
    schedule: StrictStr
    timezone: StrictStr


class _Dbt(JobPolicy):
    mode: DbtMode


class _Gating(_Section):
    policy: GatingPolicy
    wait_timeout_minutes: StrictInt
    poke_seconds: StrictInt


class _BatonFile(_Section):
    """baton.yml as written (after the environment's overrides)."""

    owner: StrictStr
    cycle: _Cycle
    dbt: _Dbt
    ingestion: JobPolicy
    gating: _Gating


class Config(BaseModel):
    """What shapes the DAGs: baton.yml with the environment's overrides."""

    model_config = ConfigDict(frozen=True)

    owner: str
    cycle_schedule: str
    timezone: str
    dbt_mode: DbtMode
    dbt: JobPolicy
    ingestion: JobPolicy
    gating_policy: GatingPolicy
    gating_wait_timeout_minutes: int
    gating_poke_seconds: int
    runner: Runner
    metadata_dir: Path
    # The pool of analytics.duckdb writers (settings.env); None when neither the environment nor
    # settings.env names it: dbt tasks then fail when they run, naming BATON_WAREHOUSE_POOL.
    warehouse_pool: str | None
    # BATON_WAREHOUSE (settings.env): `files` (DuckDB files, one writer per file: dbt runs take a slot of the
    # pool) or `lake` (DuckLake: many writers, no pool).
    warehouse: Warehouse = "files"
    # BATON_LAKE_RETENTION_DAYS (settings.env): lake snapshots older than this are expired (lake_maintenance).
    lake_retention_days: int = 30


def _warehouse(value: str | None) -> Warehouse:
    if value in (None, *WAREHOUSES):
        return value or "files"  # type: ignore[return-value]
    raise ConfigError(f"BATON_WAREHOUSE is {value!r}; choose one of {', '.join(WAREHOUSES)}")


def _retention_days(value: str | None) -> int:
    if value is None:
        return 30
    if not value.strip().isdigit() or int(value) < 1:
        raise ConfigError(f"BATON_LAKE_RETENTION_DAYS is {value!r}: set a whole number of days, at least 1")
    return int(value)


# --- the environment, through pydantic-settings --------------------------------------------------
class _Environ(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (the process environment, or a
    test's); a blank value counts as unset, as it always has for these variables."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self.environ = {k: v.strip() for k, v in environ.items() if isinstance(v, str) and v.strip()}
        super().__init__(settings_cls, case_sensitive=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self.environ


def _var(name: str, *more: str, **kwargs: Any) -> Any:
    """A field read from the environment variable `name` (or the first of `more` that is set)."""
    return Field(validation_alias=AliasChoices(name, *more) if more else name, **kwargs)


class EnvSettings(BaseSettings):
    """Settings from environment variables; each field's alias is its variable. Built directly,
    a model reads nothing (no hidden environment); from_env() reads a mapping, os.environ by default."""

    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, extra="ignore")
    runner: ClassVar[str] = ""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: Any, **_others: Any
    ) -> tuple[Any, ...]:
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Any:
        values = _Environ(cls, os.environ if environ is None else environ)()
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError("; ".join(_env_error(e, cls.runner) for e in exc.errors())) from None


def _env_error(error: Any, runner: str) -> str:
    name, kind, got = str(error["loc"][0]), error["type"], error.get("input")
    where = f"environment variable {name}"
    if kind == "missing":
        return f"{where} is required by BATON_RUNNER={runner} (it is not set)"
    if kind == "too_short":
        return f"{where} is required by BATON_RUNNER={runner} (it lists nothing)"
    if kind == "int_parsing":
        return f"{where} must be a whole number, got {got!r}"
    if kind == "bool_parsing":
        return f"{where} must be true or false, got {got!r}"
    if kind == "literal_error":
        return f"{where} is {got!r}; choose one of {', '.join(RUNNERS)}"
    if kind == "value_error":
        return f"{where}: {error['ctx']['error']}"
    return f"{where}: {error['msg']} (got {got!r})"


class _Overrides(EnvSettings):
    """The environment variables load_config() reads."""

    config: Path | None = _var("BATON_CONFIG", default=None)
    runner_name: Runner = _var("BATON_RUNNER", default="docker")
    dbt_mode: str | None = _var("BATON_DBT_MODE", default=None)
    gating: str | None = _var("BATON_GATING", default=None)
    timezone: str | None = _var("BATON_TIMEZONE", default=None)
    metadata_dir: Path = _var("BATON_METADATA_DIR", default=DAGS_DIR / "baked")


# baton.yml keys the environment overrides: key -> (variable, field of _Overrides).
OVERRIDES = {
    "cycle.timezone": ("BATON_TIMEZONE", "timezone"),
    "dbt.mode": ("BATON_DBT_MODE", "dbt_mode"),
    "gating.policy": ("BATON_GATING", "gating"),
}


def _file_error(error: Any, src: str, origin: Mapping[str, str]) -> str:
    dotted = ".".join(str(p) for p in error["loc"])
    where, kind, got = origin.get(dotted, src), error["type"], error.get("input")
    if kind == "missing" or got is None:
        return f"{where}: '{dotted}' is missing"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", error["ctx"]["expected"])
        return f"{where}: '{dotted}' is {got!r}; choose one of {', '.join(choices)}"
    if kind in KINDS:
        return f"{where}: '{dotted}' must be a {KINDS[kind]}, got {got!r}"
    if kind == "value_error":
        return f"{where}: '{dotted}' {error['ctx']['error']}"
    return f"{where}: '{dotted}': {error['msg']} (got {got!r})"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist (set BATON_CONFIG to the orchestration config)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of settings, got {type(data).__name__}")
    return data


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    env = os.environ if environ is None else environ
    overrides = _Overrides.from_env(env)
    path = overrides.config or path or DAGS_DIR / "baton.yml"
    data, origin = _read_yaml(path), {}
    for dotted, (variable, field) in OVERRIDES.items():
        value = getattr(overrides, field)
        if value is not None:
            section, key = dotted.split(".")
            data[section] = {**(data.get(section) if isinstance(data.get(section), dict) else {}), key: value}
            origin[dotted] = f"environment variable {variable}"
    try:
        file = _BatonFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("; ".join(_file_error(e, str(path), origin) for e in exc.errors())) from None
    return Config(
        owner=file.owner,
        cycle_schedule=file.cycle.schedule,
        timezone=file.cycle.timezone,
        dbt_mode=file.dbt.mode,
        dbt=JobPolicy.model_validate(file.dbt.model_dump(exclude={"mode"})),
        ingestion=file.ingestion,
        gating_policy=file.gating.policy,
        gating_wait_timeout_minutes=file.gating.wait_timeout_minutes,
        gating_poke_seconds=file.gating.poke_seconds,
        runner=overrides.runner_name,
        metadata_dir=overrides.metadata_dir,
        warehouse_pool=setting("BATON_WAREHOUSE_POOL", SETTINGS_FILE, env=env),
        warehouse=_warehouse(setting("BATON_WAREHOUSE", SETTINGS_FILE, env=env)),
        lake_retention_days=_retention_days(setting("BATON_LAKE_RETENTION_DAYS", SETTINGS_FILE, env=env)),
    )


# --- runner settings: read when a task runs ------------------------------------------------------
@dataclass(frozen=True)
class MountSpec:
    source: str
    target: str
    read_only: bool


def _listed(value: Any) -> Any:
    """A comma-separated list, as the variables write it."""
    return tuple(p.strip() for p in value.split(",") if p.strip()) if isinstance(value, str) else value


def _mount(spec: str) -> MountSpec:
    source, _, rest = spec.partition(":")
    target, _, mode = rest.partition(":")
    if not source or not target.startswith("/") or mode not in ("", "ro") or spec.endswith(":"):
        raise ValueError(f"{spec!r} is not SOURCE:/TARGET[:ro]")
    return MountSpec(source, target, mode == "ro")


Listed = Annotated[tuple[str, ...], NoDecode]


class DockerSettings(EnvSettings):
    runner: ClassVar[str] = "docker"

    image: str = _var("BATON_JOBS_IMAGE")
    url: str = _var("BATON_DOCKER_URL", default="unix://var/run/docker.sock")
    network: str | None = _var("BATON_DOCKER_NETWORK", default=None)
    # SRC:/TARGET[:ro],...; a SRC without a leading / is a named volume.
    mounts: Annotated[tuple[MountSpec, ...], NoDecode] = _var("BATON_DOCKER_MOUNTS", default=())
    # Names of worker variables passed to every job.
    job_env: Listed = _var("BATON_JOB_ENV", default=())
    # Label and name prefix of job containers.
    project: str = _var("BATON_PROJECT")
    # SIGTERM -> SIGKILL when a job is stopped.
    stop_grace_seconds: int = _var("BATON_DOCKER_STOP_GRACE_SECONDS", default=30)
    # Each job container's memory limit (e.g. 2g); None: unbounded.
    memory: str | None = _var("BATON_JOB_MEMORY", default=None)

    @field_validator("mounts", mode="before")
    @classmethod
    def _parse_mounts(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return tuple(_mount(spec) for spec in _listed(value))

    @field_validator("job_env", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _listed(value)

    @field_validator("job_env")
    @classmethod
    def _variable_names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        bad = [n for n in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]
        if bad:
            raise ValueError(f"{', '.join(bad)} is not a variable name")
        return names

    @field_validator("memory")
    @classmethod
    def _docker_size(cls, raw: str | None) -> str | None:
        """As Docker takes it: a number of bytes with an optional unit (b, k, m, g)."""
        if raw is not None and not re.fullmatch(r"[1-9][0-9]*[bkmg]?", raw.lower()):
            raise ValueError(f"{raw!r} is not a size such as 2g or 1536m")
        return raw.lower() if raw else None


class EcsSettings(EnvSettings):
    runner: ClassVar[str] = "ecs"

    cluster: str = _var("BATON_ECS_CLUSTER")
    task_definition: str = _var("BATON_ECS_TASK_DEFINITION")
    container: str = _var("BATON_ECS_CONTAINER")
    subnets: Listed = _var("BATON_ECS_SUBNETS", min_length=1)
    security_groups: Listed = _var("BATON_ECS_SECURITY_GROUPS", min_length=1)
    log_group: str = _var("BATON_ECS_LOG_GROUP")
    log_stream_prefix: str = _var("BATON_ECS_LOG_STREAM_PREFIX", default="jobs")
    capacity_provider: str = _var("BATON_ECS_CAPACITY_PROVIDER", default="FARGATE_SPOT")
    region: str | None = _var("AWS_REGION", "AWS_DEFAULT_REGION", default=None)
    deferrable: bool = _var("BATON_ECS_DEFERRABLE", default=True)

    @field_validator("subnets", "security_groups", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _listed(value)


class SubprocessSettings(EnvSettings):
    runner: ClassVar[str] = "subprocess"

    meltano_bin: str = _var("BATON_MELTANO_BIN", default="meltano")
    dbt_bin: str = _var("BATON_DBT_BIN", default="dbt")
    # Runs meltano/bin/{el,state}.py.
    meltano_python: str = _var("BATON_MELTANO_PYTHON", default=sys.executable)
    meltano_project: Path = _var("BATON_MELTANO_PROJECT", default=DAGS_DIR.parent / "meltano")
    dbt_project: Path = _var("BATON_DBT_PROJECT", default=DAGS_DIR.parent / "dbt")


RunnerSettings = DockerSettings | EcsSettings | SubprocessSettings
RUNNER_SETTINGS: dict[str, type[EnvSettings]] = {s.runner: s for s in (DockerSettings, EcsSettings, SubprocessSettings)}


def runner_settings(runner: str, environ: Mapping[str, str] | None = None) -> RunnerSettings:
    """The settings of `runner` from the worker's environment, validated; ConfigError names the variable."""
    if runner not in RUNNER_SETTINGS:
        raise ConfigError(f"environment variable BATON_RUNNER is {runner!r}; choose one of {', '.join(RUNNERS)}")
    return RUNNER_SETTINGS[runner].from_env(environ)
