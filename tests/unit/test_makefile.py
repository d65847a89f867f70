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
    # (Drop-ins on the engine come before the official names: a prefix no engine has leaves them out;
    # tests/stack/test_readme.py starts a clone without .baton/images.env on this machine's drop-ins.)
    no_dropins = {"BATON_BASE_PREFIX": "baton-none-such"}
    assert _resolved(repo, images_env, no_dropins) == official["BATON_POSTGRES_IMAGE"]
    images_env.write_text("# comment\nBATON_POSTGRES_IMAGE=baton-local/postgres:15-bookworm\n")
    assert _resolved(repo, images_env, no_dropins) == "baton-local/postgres:15-bookworm"
    assert _resolved(repo, images_env, {"BATON_POSTGRES_IMAGE": "registry.example/pg:15"}) == "registry.example/pg:15"


def _probe(checkout: Path, env: dict[str, str], *names: str) -> list[str]:
    """Variables as a Makefile in `checkout` resolves them."""
    probe = "probe: ; @echo " + " ".join(f"$({n})" for n in names)
    result = subprocess.run(
        ["make", "-s", "--eval", probe, "probe"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", **env},
    )
    return result.stdout.split()


def _checkout(repo: Path, folder: Path) -> Path:
    """A checkout's files the Makefile reads when it starts, in `folder`."""
    for name in ("Makefile", "settings.env", "images/base/ensure.sh", "terraform/terraform.mk"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes((repo / name).read_bytes())
    return folder


def test_images_are_tagged_with_the_checkout_so_two_checkouts_never_share_them(repo: Path, tmp_path: Path) -> None:
    a = _checkout(repo, tmp_path / "Client A.kit")
    b = _checkout(repo, tmp_path / "client-b")
    settings = dict(line.split("=", 1) for line in (repo / "settings.env").read_text().splitlines() if "=" in line)
    jobs, airflow = settings["BATON_JOBS_REPOSITORY"], settings["BATON_AIRFLOW_REPOSITORY"]
    assert _probe(a, {}, "BATON_PROJECT", "BATON_JOBS_IMAGE", "BATON_AIRFLOW_IMAGE") == [
        "client-a-kit",
        f"{jobs}:client-a-kit",
        f"{airflow}:client-a-kit",
    ]
    assert _probe(b, {}, "BATON_JOBS_IMAGE") == [f"{jobs}:client-b"]
    # The project kept in the stack's env file (a renamed folder keeps its stack and images).
    (a / "compose").mkdir()
    (a / "compose" / ".env").write_text("BATON_PROJECT=client-a\n")
    assert _probe(a, {}, "BATON_JOBS_IMAGE") == [f"{jobs}:client-a"]
    # A second stack of a checkout (the tests') names its project; its images follow.
    assert _probe(a, {"BATON_PROJECT": "baton-stacktest"}, "BATON_JOBS_IMAGE") == [f"{jobs}:baton-stacktest"]
    # The environment names an image outright (a registry, CI) and wins, in a make it starts too.
    env = {"BATON_JOBS_IMAGE": "registry.example/jobs:1.2", "BATON_AIRFLOW_IMAGE": "registry.example/af:1.2"}
    assert _probe(a, env, "BATON_JOBS_IMAGE", "BATON_AIRFLOW_IMAGE") == list(env.values())
    assert _probe(a, {**env, "BATON_IMAGES_PROJECT": "client-a"}, "BATON_JOBS_IMAGE") == ["registry.example/jobs:1.2"]
    # A make started by this checkout's make for another project (a test stack) gets that project's
    # images, not the ones the parent derived for itself.
    parent = {"BATON_JOBS_IMAGE": f"{jobs}:client-a", "BATON_IMAGES_PROJECT": "client-a"}
    assert _probe(a, {**parent, "BATON_PROJECT": "baton-stacktest"}, "BATON_JOBS_IMAGE") == [f"{jobs}:baton-stacktest"]
    assert _probe(a, parent, "BATON_JOBS_IMAGE") == [f"{jobs}:client-a"]


def test_the_tests_derive_the_image_tags_as_the_makefile_does(repo: Path, tmp_path: Path) -> None:
    from tests.conftest import folder_project

    for name in ("Client A.kit", "__ünïcode-Ok", "baton", "x_y-Z"):
        checkout = _checkout(repo, tmp_path / name)
        assert _probe(checkout, {}, "BATON_PROJECT") == [folder_project(checkout)], name


def test_a_folder_name_that_gives_no_project_name_stops_make_with_what_to_do(repo: Path, tmp_path: Path) -> None:
    checkout = _checkout(repo, tmp_path / "___")
    result = subprocess.run(
        ["make", "-s", "help"], cwd=checkout, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert result.returncode != 0 and "set BATON_PROJECT" in result.stderr


def test_every_image_tag_reader_agrees_with_the_makefile(repo: Path) -> None:
    """Compose, the scheduler's docker runner, the tests and the benchmarks read the tag from the
    environment the Makefile exports: no file names a tag of its own."""
    compose = (repo / "compose" / "compose.yml").read_text()
    assert "BATON_JOBS_IMAGE: ${BATON_JOBS_IMAGE:?" in compose  # the scheduler's docker runner
    settings = (repo / "settings.env").read_text()
    assert not re.search(r"^BATON_(JOBS|AIRFLOW)_IMAGE=", settings, re.MULTILINE)
    tracked = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout
    for name in tracked.split():
        if name.endswith((".py", ".yml", ".sh", ".mk")) or name == "Makefile":
            text = (repo / name).read_text(errors="replace")
            assert not re.search(r"baton/(jobs|airflow):(local|onboarding)\b", text), name
