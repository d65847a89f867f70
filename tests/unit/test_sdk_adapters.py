"""The singer-sdk private members the kit's plugins use, each behind its package's sdk_adapter.py, checked
in the plugin's own environment (from `make setup`'s `meltano install`): a singer-sdk upgrade that
renames one, changes its signature or its behaviour fails here, check by check."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

VENVS = REPO / "meltano" / ".meltano"
PLUGINS = {
    "target-baton-duckdb": (VENVS / "loaders" / "target-baton-duckdb", "target_checks"),
    "tap-baton-postgres": (VENVS / "extractors" / "tap-baton-postgres", "tap_checks"),
}
CHECKS = Path(__file__).parent / "sdk_checks"


def check_names(module: str) -> list[str]:
    tree = ast.parse((CHECKS / f"{module}.py").read_text())
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("check_")]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    found = {}
    for plugin, (plugin_dir, module) in PLUGINS.items():
        python = plugin_dir / "venv" / "bin" / "python"
        if not python.exists():
            pytest.fail(f"{python.relative_to(REPO)} is missing: run `make setup` (it runs `meltano install`)")
        out = tmp_path_factory.mktemp(module) / "outcomes.json"
        proc = subprocess.run(
            [str(python), "-m", f"tests.unit.sdk_checks.{module}", str(out)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0 and out.exists(), (
            f"{module} did not run ({proc.returncode}):\n{proc.stderr[-4000:]}"
        )
        found[plugin] = json.loads(out.read_text())
    return found


@pytest.mark.parametrize(
    ("plugin", "check"), [(plugin, name) for plugin, (_, module) in PLUGINS.items() for name in check_names(module)]
)
def test_singer_sdk_private_member(outcomes: dict[str, dict[str, str]], plugin: str, check: str) -> None:
    assert outcomes[plugin].get(check) == "ok", f"{plugin}: {check} failed in the installed singer-sdk:\n" + (
        outcomes[plugin].get(check) or "not run"
    )
