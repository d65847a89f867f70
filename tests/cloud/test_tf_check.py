"""make tf-check without a provider mirror: a skip that names TF_PLUGIN_DIR, a failure under CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.cloud.conftest import unavailable
from tests.conftest import REPO


def tf_check(tmp_path, ci: str) -> subprocess.CompletedProcess[str]:
    if not shutil.which("terraform"):
        unavailable("terraform is not on PATH (install Terraform >= 1.11)")
    env = {k: v for k, v in os.environ.items() if k not in {"TF_PLUGIN_DIR", "CI"}}
    env.update(
        TF_PLUGIN_SEARCH=str(tmp_path / "no-mirror"),
        TF_REGISTRY_URL="http://127.0.0.1:9",  # the discard port: no registry answers
        TF_DATA_DIR=str(tmp_path / "tf"),
        CI=ci,
    )
    return subprocess.run(
        ["bash", "terraform/tools/tf-check.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_without_a_mirror_validation_is_skipped_naming_the_setting(tmp_path) -> None:
    result = tf_check(tmp_path, ci="")
    assert result.returncode == 0, result.stderr
    assert re.search(r"\d+ passed, 0 failed", result.stdout)  # fmt and the spec module's tests still ran
    assert "terraform validate skipped" in result.stdout and "TF_PLUGIN_DIR" in result.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_without_a_mirror_ci_fails(tmp_path, ci: str) -> None:
    result = tf_check(tmp_path, ci=ci)
    assert result.returncode == 1
    assert "CI=true but terraform validate skipped" in result.stderr
    assert "TF_PLUGIN_DIR" in result.stderr
