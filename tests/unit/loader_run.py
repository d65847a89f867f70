"""Running target-baton-duckdb as Meltano installed it: Singer messages in, STATE lines and the
DuckDB file out. The loader's venv comes from `make setup` (`meltano install`)."""

from __future__ import annotations

import json
import subprocess
import typing as t
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO

LOADER = REPO / "meltano" / ".meltano" / "loaders" / "target-baton-duckdb" / "venv" / "bin" / "target-baton-duckdb"
SUMMARY_PREFIX = "baton-loader: "


def loader_bin() -> Path:
    if not LOADER.exists():
        pytest.fail(
            f"{LOADER.relative_to(REPO)} is missing: run `make setup` (it runs `meltano install`, which installs "
            "the loader from meltano/packages/target-baton-duckdb)",
            pytrace=False,
        )
    return LOADER


def schema(stream: str, properties: dict, keys: list[str] | None = None, bookmark: str | None = None) -> dict:
    message = {"type": "SCHEMA", "stream": stream, "schema": {"type": "object", "properties": properties}}
    message["key_properties"] = keys or []
    if bookmark:
        message["bookmark_properties"] = [bookmark]
    return message


def record(stream: str, values: dict) -> dict:
    return {"type": "RECORD", "stream": stream, "record": values, "time_extracted": "2026-01-01T00:00:00+00:00"}


def state(bookmarks: dict) -> dict:
    return {"type": "STATE", "value": {"bookmarks": bookmarks}}


def batch(stream: str, files: list[Path], fmt: str, compression: str = "none", **extra: t.Any) -> dict:
    return {
        "type": "BATCH",
        "stream": stream,
        "encoding": {"format": fmt, "compression": compression},
        "manifest": [f.resolve().as_uri() for f in files],
        **extra,
    }


def encode(messages: list[dict | str]) -> str:
    """Messages as Singer lines; a str is sent as it is (e.g. a line holding a NaN literal)."""
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def summaries(self) -> dict[str, dict]:
        lines = [line for line in self.stderr.splitlines() if line.startswith(SUMMARY_PREFIX)]
        return {s["stream"]: s for s in (json.loads(line[len(SUMMARY_PREFIX) :]) for line in lines)}


class Loader:
    """One DuckDB file and a base config; `run` starts the real loader process."""

    def __init__(self, work: Path, **config: t.Any):
        self.work = work
        self.db = work / "raw.duckdb"
        self.config = {"path": str(self.db), "default_target_schema": "shop", **config}
        self._n = 0

    def config_file(self, **overrides: t.Any) -> Path:
        self._n += 1
        path = self.work / f"config-{self._n}.json"
        path.write_text(json.dumps({**self.config, **overrides}))
        return path

    def command(self, **overrides: t.Any) -> list[str]:
        return [str(loader_bin()), "--config", str(self.config_file(**overrides))]

    def run(self, messages: list[dict | str], *, ok: bool = True, **overrides: t.Any) -> Result:
        proc = subprocess.run(
            self.command(**overrides), input=encode(messages), capture_output=True, text=True, timeout=300
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if ok and proc.returncode != 0:
            raise AssertionError(f"the loader failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
        if not ok and proc.returncode == 0:
            raise AssertionError(f"the loader succeeded but should have failed:\n{proc.stderr[-3000:]}")
        return result

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as conn:
            conn.execute("set TimeZone = 'UTC'")
            return conn.execute(sql, params or []).fetchall()

    def types(self, table: str) -> dict[str, str]:
        schema_name, name = table.split(".")
        return dict(
            self.query(
                "select column_name, data_type from information_schema.columns where table_schema = ? "
                "and table_name = ? order by ordinal_position",
                [schema_name, name],
            )
        )
