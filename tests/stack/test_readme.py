"""The README's quickstart, in a scratch clone of the checkout, exactly as the README writes it.

The clone has nothing of this checkout's local state: no environments (.venv, .venvs), no env
file, no .baton/images.env, no uv of its own. Its two commands must build what they need by
themselves: `make up` its images (tagged with the clone's own project, from its folder) on the
machine's bases, `make test-unit` the locked environments. It reuses what this machine already has
(uv's download cache, the bases, the image layers), and runs on ports apart from every other stack.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, folder_project, setting
from tests.containers import docker_engine, remove_compose_project
from tests.stack.conftest import copy_checkout, report, scratch_env

pytestmark = pytest.mark.timeout(2400)

PORTS = {
    "BATON_AIRFLOW_PORT": os.environ.get("BATON_README_AIRFLOW_PORT", "18380"),
    "BATON_SHOP_PORT": os.environ.get("BATON_README_SHOP_PORT", "15733"),
    "BATON_DOCS_PORT": os.environ.get("BATON_README_DOCS_PORT", "18381"),
}


def quickstart() -> list[str]:
    """The commands of the README's Quickstart block, without their comments."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"^## Quickstart\n+```sh\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    assert block, "README.md has no ```sh block under ## Quickstart"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.split("#", 1)[0].strip()]


@pytest.fixture(scope="module")
def clone() -> Iterator[tuple[Path, dict[str, str]]]:
    root = REPO / ".baton" / "readme"
    clone = root / "baton-readme"
    env = scratch_env(**PORTS)
    if (clone / "compose" / ".env").exists():
        subprocess.run(["make", "reset", "CONFIRM=yes"], cwd=clone, env=env, capture_output=True)
    remove_compose_project(docker_engine(), "baton-readme")
    shutil.rmtree(root, ignore_errors=True)
    copy_checkout(clone)
    try:
        yield clone, env
    finally:
        subprocess.run(["make", "reset", "CONFIRM=yes"], cwd=clone, env=env, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_a_fresh_clone_runs_the_quickstart_as_written(clone: tuple[Path, dict[str, str]]) -> None:
    path, env = clone
    commands = quickstart()
    assert commands == ["make up", "make test-unit"], commands
    assert not any((path / p).exists() for p in (".venv", ".venvs", ".baton", "compose/.env", "dags/baked"))

    for command in commands:
        t0 = time.monotonic()
        proc = subprocess.run(shlex.split(command), cwd=path, env=env, capture_output=True, text=True)
        took = time.monotonic() - t0
        assert proc.returncode == 0, f"`{command}` in a fresh clone:\n{proc.stdout[-5000:]}\n{proc.stderr[-3000:]}"
        report(f"readme: `{command}` in a fresh clone took {took:.0f}s")
        if command == "make up":
            assert "cycle" in proc.stdout and "Airflow: http://127.0.0.1:" + PORTS["BATON_AIRFLOW_PORT"] in proc.stdout

    # The clone ran its own images, named after its folder, on the bases this machine has (the
    # clone has no .baton/images.env: the drop-ins any checkout built are found on the engine).
    project = folder_project(path)
    assert f"BATON_PROJECT={project}" in (path / "compose" / ".env").read_text()
    images = subprocess.run(
        ["docker", "ps", "--filter", f"label=com.docker.compose.project={project}", "--format", "{{.Image}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(images) == {f"{setting('BATON_AIRFLOW_REPOSITORY')}:{project}", setting("BATON_POSTGRES_IMAGE")}, images
    assert not (path / ".baton" / "images.env").exists()
