"""The repository keeps the documented layout, and CI runs exactly the README's test command."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

TOP_LEVEL = ["compose", "images", "dags", "meltano", "dbt", "terraform", "tests"]


def test_top_level_layout(repo: Path) -> None:
    missing = [d for d in TOP_LEVEL if not (repo / d).is_dir()]
    assert not missing, f"missing top-level folders: {missing}"
    for name in ["Makefile", "README.md", ".ci/run", "pyproject.toml", "uv.lock"]:
        assert (repo / name).is_file(), name


def readme_test_command(repo: Path) -> str:
    """The first command in the fenced block under the README's '## Test' heading."""
    text = (repo / "README.md").read_text()
    m = re.search(r"^## Test\b.*?^```(?:sh|bash)?\n(.+?)\n```", text, re.MULTILINE | re.DOTALL)
    assert m, "README.md needs a '## Test' section with the test command in a fenced block"
    return m.group(1).strip().splitlines()[0]


def test_ci_runs_the_readme_test_command(repo: Path) -> None:
    command = readme_test_command(repo)
    ci = (repo / ".ci" / "run").read_text()
    calls = [line for line in ci.splitlines() if not line.lstrip().startswith("#")]
    assert any(line.rstrip().endswith(command) for line in calls), f".ci/run does not call {command!r}"


def test_ci_script_is_valid_bash(repo: Path) -> None:
    subprocess.run(["bash", "-n", str(repo / ".ci" / "run")], check=True)


def test_every_environment_is_locked_and_built_by_setup(repo: Path) -> None:
    """Each image environment has a committed lock and `make setup` builds it."""
    envs = re.search(r"^ENVS := (.+)$", (repo / "Makefile").read_text(), re.MULTILINE)
    assert envs, "Makefile has no ENVS line"
    built = {pair.split(":")[1] for pair in envs.group(1).split()}
    projects = {str(p.parent.relative_to(repo)) for p in (repo / "images").rglob("pyproject.toml")}
    assert projects == built, f"environments not built by `make setup`: {projects - built}"
    for project in [".", *projects]:
        assert (repo / project / "uv.lock").is_file(), f"{project} has no uv.lock; run `make lock`"
