"""The warehouse's settings from the environment (BATON_WAREHOUSE and its companions, see warehouse.py), and
DuckDB's connection settings from them: no extension from the network, the kit's extension folder, memory
(BATON_DUCKDB_MEMORY_LIMIT, BATON_DUCKDB_THREADS, BATON_DUCKDB_TEMP_DIR; empty or unset: DuckDB's default)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

MODES = ("files", "lake")


class WarehouseError(Exception):
    """The warehouse cannot be reached or opened; the message says what to do."""


def _env(environ: dict[str, str] | os._Environ, key: str, default: str = "") -> str:
    return (environ.get(key) or "").strip() or default


@dataclass(frozen=True)
class Settings:
    mode: str = "files"
    files_dir: str = "/data/warehouse"
    catalog: str = ""  # libpq connection string (key=value or postgresql://...) of the catalog database
    data_path: str = ""  # folder or s3://bucket/prefix; each database under <data_path>/<name>/
    s3_endpoint: str = ""  # host:port of an S3-compatible endpoint; empty: AWS
    s3_url_style: str = ""  # `path` for endpoints without virtual hosts (moto, MinIO); empty: DuckDB's default
    s3_use_ssl: bool = True
    s3_region: str = ""
    extension_dir: str = ""
    memory_limit: str = ""
    threads: str = ""
    temp_dir: str = ""
    aws_key_id: str = ""  # AWS_ACCESS_KEY_ID; empty: AWS's credential chain (an ECS task role)
    aws_secret: str = ""
    aws_session_token: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | os._Environ | None = None) -> Settings:
        env = os.environ if environ is None else environ
        mode = _env(env, "BATON_WAREHOUSE", "files").lower()
        if mode not in MODES:
            raise WarehouseError(f"BATON_WAREHOUSE={mode!r} is not a warehouse: set it to `files` or `lake`")
        settings = cls(
            mode=mode,
            files_dir=_env(env, "BATON_WAREHOUSE_DIR", "/data/warehouse"),
            catalog=_env(env, "BATON_LAKE_CATALOG"),
            data_path=_env(env, "BATON_LAKE_DATA_PATH").rstrip("/"),
            s3_endpoint=_env(env, "BATON_LAKE_S3_ENDPOINT"),
            s3_url_style=_env(env, "BATON_LAKE_S3_URL_STYLE"),
            s3_use_ssl=_env(env, "BATON_LAKE_S3_USE_SSL", "true").lower() not in ("0", "false", "no"),
            s3_region=_env(env, "AWS_REGION") or _env(env, "AWS_DEFAULT_REGION"),
            extension_dir=_env(env, "BATON_DUCKDB_EXTENSION_DIR"),
            memory_limit=_env(env, "BATON_DUCKDB_MEMORY_LIMIT"),
            threads=_env(env, "BATON_DUCKDB_THREADS"),
            temp_dir=_env(env, "BATON_DUCKDB_TEMP_DIR"),
            aws_key_id=_env(env, "AWS_ACCESS_KEY_ID"),
            aws_secret=_env(env, "AWS_SECRET_ACCESS_KEY"),
            aws_session_token=_env(env, "AWS_SESSION_TOKEN"),
        )
        if mode == "lake":
            missing = [
                k
                for k, v in (("BATON_LAKE_CATALOG", settings.catalog), ("BATON_LAKE_DATA_PATH", settings.data_path))
                if not v
            ]
            if missing:
                raise WarehouseError(
                    f"BATON_WAREHOUSE=lake needs {' and '.join(missing)}: the lake's catalog (a Postgres connection "
                    "string, e.g. postgresql://user:password@host:5432/lake) and its data path (a folder or "
                    "s3://bucket/prefix). The sandbox sets both in settings.env and compose; the cloud in the job's "
                    "task definition."
                )
        return settings

    @property
    def on_s3(self) -> bool:
        return self.data_path.startswith("s3://")


def duckdb_config(settings: Settings) -> dict[str, Any]:
    """Settings for duckdb.connect: no extension from the network, the kit's extension folder, memory."""
    config: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": True}
    if settings.extension_dir:
        config["extension_directory"] = settings.extension_dir
    if settings.memory_limit:
        config["memory_limit"] = settings.memory_limit
    if settings.threads:
        config["threads"] = int(settings.threads)
    if settings.temp_dir:
        config["temp_directory"] = settings.temp_dir
    return config
