"""Discovery: the extractor's own (`tap-baton-postgres --discover`) in a container of the jobs
image, and the tables, keys and replication the scaffold takes from its catalog."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from .model import REPO, Table

# The extractor in the jobs image (Meltano installs it there at build time).
TAP = "/opt/baton/meltano/.meltano/extractors/tap-baton-postgres/venv/bin/tap-baton-postgres"
DISCOVERY_TIMEOUT = 300
# Columns that say when a row last changed, best first; then any *updated*/*modified* timestamp.
UPDATED_AT = (
    "updated_at",
    "modified_at",
    "last_modified_at",
    "last_updated_at",
    "updated",
    "modified",
    "last_modified",
    "last_updated",
    "updated_on",
    "modified_on",
    "changed_at",
)
UPDATED_LIKE = re.compile(r"(updated|modified|changed)")


class Unreachable(RuntimeError):
    """Discovery could not run or reach the source: the scaffold falls back to the stub."""


def _is_timestamp(schema: dict) -> bool:
    return schema.get("format") in ("date-time", "date")


def replication_key(properties: dict[str, dict]) -> str | None:
    """The updated_at-like timestamp column of a table, or None (the table is then FULL_TABLE)."""
    stamps = {name for name, schema in properties.items() if _is_timestamp(schema)}
    for name in UPDATED_AT:
        if name in stamps:
            return name
    return next((name for name in properties if name in stamps and UPDATED_LIKE.search(name)), None)


def tables_from_catalog(catalog: dict, schema: str, entity: str | None = None) -> list[Table]:
    """The tables of `schema` in a Singer catalog from discovery (all, or only `entity`)."""
    found = []
    for stream in catalog.get("streams", []):
        root = next((m["metadata"] for m in stream.get("metadata", []) if m.get("breadcrumb") == []), {})
        stream_schema = root.get("schema-name") or stream.get("tap_stream_id", "").split("-", 1)[0]
        table = stream.get("table_name") or stream.get("stream", "").split("-", 1)[-1]
        if stream_schema != schema or (entity and table != entity):
            continue
        properties = (stream.get("schema") or {}).get("properties") or {}
        found.append(
            Table(
                name=table,
                columns=list(properties),
                keys=list(root.get("table-key-properties") or stream.get("key_properties") or []),
                replication_key=replication_key(properties),
                discovered=True,
            )
        )
    return sorted(found, key=lambda t: t.name)


def env_value(var: str, env_file: Path) -> str | None:
    """`var` from the environment, else from the stack's env file."""
    if os.environ.get(var):
        return os.environ[var]
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            key, eq, value = line.partition("=")
            if eq and key.strip() == var and value.strip():
                return value.strip().strip("'\"")
    return None


def compose_command(repo: Path = REPO) -> list[str]:
    """The stack's compose command, as the Makefile builds it (make exports these settings)."""
    compose = ["docker", "compose"] if shutil.which("docker") else ["docker-compose"]
    project = os.environ.get("BATON_PROJECT") or re.sub(r"[^a-z0-9_-]", "-", repo.name.lower()).lstrip("-_")
    env_file = os.environ.get("BATON_ENV_PATH") or str(repo / "compose" / ".env")
    return [*compose, "-p", project, "--env-file", env_file, "-f", str(repo / "compose" / "compose.yml")]


def discover(name: str, schema: str, repo: Path = REPO) -> dict:
    """The Singer catalog of the source's schema, from the extractor's discovery in a container of
    the jobs image. The secret, read from the env file, reaches the container through the environment:
    it is never on a command line."""
    env_file = Path(os.environ.get("BATON_ENV_PATH") or repo / "compose" / ".env")
    url_var = f"BATON_{name.upper()}_DB_URL"
    url = os.environ.get(url_var) or env_value(url_var, env_file)
    if not url:
        raise Unreachable(f"{url_var} is not set in {env_file} (nor in the environment)")
    script = (
        f'TAP_BATON_POSTGRES_SQLALCHEMY_URL="${url_var}" '
        f"TAP_BATON_POSTGRES_FILTER_SCHEMAS='{json.dumps([schema])}' exec {TAP} --config ENV --discover"
    )
    image = os.environ.get("BATON_JOBS_IMAGE")
    if image and shutil.which("docker"):
        found = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True)
        if found.returncode != 0:
            raise Unreachable(f"the jobs image {image} is not built: run `make jobs-image` (or `make up`) first")
    cmd = [
        *compose_command(repo),
        "run",
        "--rm",
        "--no-deps",
        "-T",
        "-e",
        url_var,
        "--entrypoint",
        "sh",
        "jobs",
        "-c",
        script,
    ]
    try:
        # The secret reaches the container through the environment (`-e NAME`), not the sources'
        # env file: a source not yet added declares nothing there.
        env = {**os.environ, url_var: url, "BATON_SOURCES_ENV_PATH": "/dev/null"}
        done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=DISCOVERY_TIMEOUT)
    except FileNotFoundError as exc:
        raise Unreachable(f"cannot run {cmd[0]}: {exc}") from None
    except subprocess.TimeoutExpired:
        raise Unreachable(f"discovery did not answer within {DISCOVERY_TIMEOUT} s") from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip() and "sqlalche.me" not in ln]
        said = [ln for ln in lines if re.search(r"(Error|error|refused|timeout|failed)\b", ln)]
        last = said[-1] if said else (lines[-1] if lines else "")
        raise Unreachable(f"discovery failed (exit {done.returncode}): {last.strip()[:400]}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise Unreachable("discovery printed no catalog (see `make logs`)") from None
