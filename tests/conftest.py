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


# The official images users pull; `make base-images` writes offline drop-ins to .baton/images.env.
DEFAULT_IMAGES = {
    "BATON_PYTHON_IMAGE": "python:3.11-slim-bookworm",
    "BATON_POSTGRES_IMAGE": "postgres:15-bookworm",
    "BATON_JOBS_IMAGE": "baton/jobs:local",
}


def image_setting(name: str) -> str:
    """An image name: the environment, else .baton/images.env, else the official default."""
    if os.environ.get(name):
        return os.environ[name]
    images_env = REPO / ".baton" / "images.env"
    if images_env.exists():
        match = re.search(rf"^{name}=(\S+)$", images_env.read_text(), re.MULTILINE)
        if match:
            return match.group(1)
    return DEFAULT_IMAGES[name]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
