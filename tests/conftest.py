"""Settings shared by every test tier."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Airflow reads these when first imported: keep its home (config, sqlite DB, logs) in the checkout.
os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".baton" / "airflow-test"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))

# Airflow puts the DAG folder on sys.path; so do the tests, to import the `baton` package.
if str(REPO / "dags") not in sys.path:
    sys.path.insert(0, str(REPO / "dags"))

# CI always has what every tier needs: there, a missing prerequisite fails instead of skipping.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip the test for `reason`; under CI=true, fail with it."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def read_settings(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a settings file (settings.env, .baton/images.env); {} when absent."""
    if not path.exists():
        return {}
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def setting(name: str) -> str:
    """A kit setting as the Makefile resolves it: the environment, then .baton/images.env (offline
    bases written by `make base-images`), then settings.env (the kit's constants)."""
    if os.environ.get(name):
        return os.environ[name]
    for path in (REPO / ".baton" / "images.env", REPO / "settings.env"):
        value = read_settings(path).get(name)
        if value:
            return value
    raise KeyError(f"{name} is set neither in the environment nor in settings.env")


image_setting = setting


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
