"""Settings shared by every test tier."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest
from baton_contract.settings import read_settings_file

REPO = Path(__file__).resolve().parent.parent

# Airflow reads these when first imported: keep its home (config, sqlite DB, logs) in the checkout.
os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".baton" / "airflow-test"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))

# CI always has what every tier needs: there, a missing prerequisite fails instead of skipping.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    """A TCP port free on loopback now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """Stop a server a test started: SIGTERM, then SIGKILL after 30 s."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def unavailable(reason: str) -> None:
    """Skip the test for `reason`; under CI=true, fail with it."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


# KEY=VALUE lines of a settings file (settings.env, .baton/images.env, compose/.env); {} when absent.
read_settings = read_settings_file


# The images built here: the repository in settings.env, tagged with the checkout's compose project.
IMAGE_REPOSITORIES = {"BATON_JOBS_IMAGE": "BATON_JOBS_REPOSITORY", "BATON_AIRFLOW_IMAGE": "BATON_AIRFLOW_REPOSITORY"}
# The bases that offline drop-ins (images/base, `make base-images`) stand in for.
BASES = ("BATON_PYTHON_IMAGE", "BATON_POSTGRES_IMAGE")


def folder_project(folder: Path) -> str:
    """The compose project the Makefile derives from a checkout's folder name: lower case, every
    byte but a-z, 0-9, '_' and '-' replaced by '-', leading non-alphanumerics dropped."""
    allowed = set(b"abcdefghijklmnopqrstuvwxyz0123456789_-")
    name = bytes(
        b + 32 if 65 <= b <= 90 else b if b in allowed else ord("-") for b in os.fsencode(folder.name)
    ).decode()
    return re.sub(r"^[^a-z0-9]*", "", name)


def project(root: Path = REPO) -> str:
    """The checkout's compose project as the Makefile resolves it: BATON_PROJECT in the
    environment, then in the stack's env file (BATON_ENV_FILE, default compose/.env), then the
    folder's name."""
    if os.environ.get("BATON_PROJECT"):
        return os.environ["BATON_PROJECT"]
    env_file = Path(os.environ.get("BATON_ENV_FILE") or root / "compose" / ".env")
    if not env_file.is_absolute():
        env_file = root / env_file
    return read_settings(env_file).get("BATON_PROJECT") or folder_project(root)


def _dropin_on_engine(name: str) -> str | None:
    """The offline drop-in of a base image, when any checkout built it on this machine's engine."""
    official = read_settings(REPO / "settings.env").get(name)
    dropin = f"{os.environ.get('BATON_BASE_PREFIX') or 'baton-local'}/{official}"
    try:
        found = subprocess.run(
            ["docker", "image", "inspect", "-f", '{{ index .Config.Labels "org.baton.inputs-hash" }}', dropin],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return dropin if found.returncode == 0 and found.stdout.strip() else None


def image(name: str, project_name: str | None = None) -> str:
    """BATON_JOBS_IMAGE or BATON_AIRFLOW_IMAGE of a compose project (default: the checkout's):
    the environment's, else the repository in settings.env tagged with the project."""
    repository = setting(IMAGE_REPOSITORIES[name])
    project_name = project_name or project()
    # The make that runs the tests exports the tags it derived for its own project
    # (BATON_IMAGES_PROJECT): for another project they are derived again, as make does.
    derived_for = os.environ.get("BATON_IMAGES_PROJECT")
    derived = derived_for and os.environ.get(name) == f"{repository}:{derived_for}" and derived_for != project_name
    if os.environ.get(name) and not derived:
        return os.environ[name]
    return f"{repository}:{project_name}"


def setting(name: str) -> str:
    """A kit setting as the Makefile resolves it: the environment, then .baton/images.env (offline
    bases written by `make base-images`), then, for a base image, its drop-in on the Docker engine,
    then settings.env (the kit's constants). An image built here is its repository tagged with the
    checkout's compose project (baton/jobs:<project>)."""
    if os.environ.get(name):
        return os.environ[name]
    if name in IMAGE_REPOSITORIES:
        return image(name)
    value = read_settings(REPO / ".baton" / "images.env").get(name)
    if not value and name in BASES:
        value = _dropin_on_engine(name)
    value = value or read_settings(REPO / "settings.env").get(name)
    if value:
        return value
    raise KeyError(f"{name} is set neither in the environment nor in settings.env")


image_setting = setting


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
