"""The Makefile is the interface: every target documented, image settings resolved as documented."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REQUIRED = {"help", "setup", "lint", "test", "base-images"}


def _targets(makefile: Path) -> dict[str, str]:
    """Targets defined by the Makefile -> their `## ` description ('' when missing)."""
    targets = {}
    for line in makefile.read_text().splitlines():
        m = re.match(r"^([a-zA-Z][a-zA-Z0-9_-]*):(?!=)(.*)$", line)
        if m:
            doc = m.group(2).partition("## ")[2].strip()
            targets[m.group(1)] = doc
    return targets


def test_every_target_has_a_one_line_help(repo: Path) -> None:
    targets = _targets(repo / "Makefile")
    assert targets.keys() >= REQUIRED
    undocumented = sorted(t for t, doc in targets.items() if not doc)
    assert not undocumented, f"targets without a '## ' description: {undocumented}"


def test_make_help_lists_every_target(repo: Path) -> None:
    out = subprocess.run(["make", "-s", "help"], cwd=repo, capture_output=True, text=True, check=True).stdout
    for target, doc in _targets(repo / "Makefile").items():
        assert re.search(rf"^\s*\S*{re.escape(target)}\S*\s+{re.escape(doc)}$", out, re.MULTILINE), target


def _resolved(repo: Path, images_env: Path, env: dict[str, str]) -> str:
    probe = "probe: ; @echo $(BATON_POSTGRES_IMAGE)"
    result = subprocess.run(
        ["make", "-s", "--eval", probe, "probe", f"BATON_IMAGES_ENV={images_env}"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", **env},
    )
    return result.stdout.strip()


def test_image_settings_environment_then_offline_file_then_official(repo: Path, tmp_path: Path) -> None:
    images_env = tmp_path / "images.env"
    official = dict(line.split("=", 1) for line in (repo / "settings.env").read_text().splitlines() if "=" in line)
    assert _resolved(repo, images_env, {}) == official["BATON_POSTGRES_IMAGE"]
    images_env.write_text("# comment\nBATON_POSTGRES_IMAGE=baton-local/postgres:15-bookworm\n")
    assert _resolved(repo, images_env, {}) == "baton-local/postgres:15-bookworm"
    assert _resolved(repo, images_env, {"BATON_POSTGRES_IMAGE": "registry.example/pg:15"}) == "registry.example/pg:15"
