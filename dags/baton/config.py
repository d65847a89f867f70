"""Settings: dags/baton.yml, overridden by environment variables. Validated with clear errors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DAGS_DIR = Path(__file__).resolve().parent.parent
DBT_MODES = ("monolith", "multi")
GATING_POLICIES = ("wait", "fail", "warn")
RUNNERS = ("docker", "ecs", "subprocess")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it and where it came from."""


@dataclass(frozen=True)
class Config:
    owner: str
    cycle_schedule: str
    timezone: str
    dbt_mode: str
    dbt_retries: int
    dbt_timeout_minutes: int
    ingestion_retries: int
    ingestion_retry_delay_minutes: int
    ingestion_timeout_minutes: int
    gating_policy: str
    gating_wait_timeout_minutes: int
    runner: str
    metadata_dir: Path


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


def load_config(path: Path | None = None, environ: dict[str, str] | None = None) -> Config:
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
        dbt_retries=_get(data, "dbt.retries", src, int),
        dbt_timeout_minutes=_get(data, "dbt.timeout_minutes", src, int),
        ingestion_retries=_get(data, "ingestion.retries", src, int),
        ingestion_retry_delay_minutes=_get(data, "ingestion.retry_delay_minutes", src, int),
        ingestion_timeout_minutes=_get(data, "ingestion.timeout_minutes", src, int),
        gating_policy=override("BATON_GATING", "gating.policy", GATING_POLICIES),
        gating_wait_timeout_minutes=_get(data, "gating.wait_timeout_minutes", src, int),
        runner=_choice("BATON_RUNNER", env.get("BATON_RUNNER", "docker"), RUNNERS, "environment variable BATON_RUNNER"),
        metadata_dir=Path(env.get("BATON_METADATA_DIR", DAGS_DIR / "baked")),
    )
