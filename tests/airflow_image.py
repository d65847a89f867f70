"""The Airflow image's own files (images/airflow: init.py, users.py, webserver_config.py) run on this
machine by the project's Airflow, with the settings the image's Dockerfile gives them: for the
tests that run Airflow's processes without building the image (OIDC sign-in, what ECS would log)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO

IMAGE = REPO / "images" / "airflow"
AIRFLOW = Path(sys.executable).parent / "airflow"
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def image_environment(home: Path) -> dict[str, str]:
    """This process's environment without Airflow's and the kit's settings, plus the image's ENV
    (FAB auth manager, webserver_config.py, roles synced by init only, the image's tools importable:
    baton_users, baton_services, baton_pgurl)."""
    (home / "dags").mkdir(parents=True, exist_ok=True)
    tools = home / "tools"
    tools.mkdir(exist_ok=True)
    for module, source in (("baton_users", "users.py"), ("baton_services", "services.py"), ("baton_pgurl", "pgurl.py")):
        if not (tools / f"{module}.py").exists():
            (tools / f"{module}.py").symlink_to(IMAGE / source)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BATON_"))},
        "PATH": f"{AIRFLOW.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",  # init runs `airflow`
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB,
        "AIRFLOW__FAB__CONFIG_FILE": str(IMAGE / "webserver_config.py"),
        "AIRFLOW__FAB__UPDATE_FAB_PERMS": "False",  # as in the image: init syncs the roles
        "PYTHONPATH": str(tools),
    }


def run_init(env: dict[str, str]) -> str:
    """baton-airflow-init; its output (stdout and stderr) when it succeeds."""
    proc = subprocess.run([sys.executable, str(IMAGE / "init.py")], env=env, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    return out


def wait_for(url: str, proc: subprocess.Popen, seconds: float, log: Path) -> None:
    """Until `url` answers 200; fails naming the process's last output if it exits or times out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{url}: the process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"{url} did not answer within {seconds:.0f}s:\n{log.read_text()[-3000:]}")
