"""The compose stack's contract, read from compose/compose.yml: images from variables, ports on
loopback, health on every long-running service, the Docker socket in one service, no secrets."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ONE_SHOT = {"airflow-init"}
ON_DEMAND = {"jobs", "cli", "user"}  # profiles: run with `compose run`, not part of `up`


@pytest.fixture(scope="module")
def compose(repo: Path) -> dict:
    return yaml.safe_load((repo / "compose" / "compose.yml").read_text())


def test_every_image_comes_from_a_variable_without_a_second_default(compose: dict) -> None:
    # The names live in settings.env only: compose requires them (the Makefile exports them).
    for name, service in compose["services"].items():
        assert re.fullmatch(r"\$\{BATON_[A-Z_]+_IMAGE:\?[^}]+\}", service["image"]), name


def test_ports_are_published_on_loopback_only(compose: dict) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"


def test_every_long_running_service_has_a_healthcheck(compose: dict, repo: Path) -> None:
    # Every service probes rarely (quiet at rest) and compose never waits on Docker's probe, which
    # comes only after its interval: `make` waits with wait-healthy.sh, which runs a starting
    # container's probe itself every half second.
    awaited = {
        dep
        for service in compose["services"].values()
        for dep, how in (service.get("depends_on") or {}).items()
        if how.get("condition") == "service_healthy"
    }
    assert awaited == set()
    for name, service in compose["services"].items():
        if name in ONE_SHOT | ON_DEMAND:
            continue
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        interval = int(check["interval"].rstrip("s"))
        assert interval <= 30, f"{name}: probes every {interval} s"
    waiter = (repo / "compose" / "wait-healthy.sh").read_text()
    assert re.search(r"starting\) if probe ", waiter) and ".Config.Healthcheck.Test" in waiter


def test_the_docker_socket_is_mounted_in_the_scheduler_only(compose: dict) -> None:
    with_socket = [
        name for name, s in compose["services"].items() if any("docker.sock" in str(v) for v in s.get("volumes", []))
    ]
    assert with_socket == ["scheduler"]


def test_airflow_services_share_one_generated_jwt_secret_and_fernet_key(compose: dict) -> None:
    env = compose["x-airflow"]["environment"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${BATON_JWT_SECRET:?")
    assert env["AIRFLOW__CORE__FERNET_KEY"].startswith("${BATON_FERNET_KEY:?")
    assert int(re.search(r":-(\d+)\}", env["AIRFLOW__CORE__PARALLELISM"]).group(1)) <= 8


def test_no_secret_has_a_default(repo: Path) -> None:
    text = (repo / "compose" / "compose.yml").read_text()
    for secret in re.findall(r"\$\{(BATON_\w*(?:PASSWORD|SECRET|KEY)\w*)([^}]*)\}", text):
        name, rest = secret
        assert not rest.startswith(":-") and not rest.startswith("-"), f"{name} has a default in compose.yml"


def test_env_file_generates_every_secret_once(repo: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "stack.env"
    run = ["bash", str(repo / "compose" / "env-file.sh"), str(env_file)]
    env = {"PATH": "/usr/bin:/bin", "BATON_DATA_DIR": "/srv/data", "BATON_PROJECT": "client-a"}
    subprocess.run(run, check=True, capture_output=True, env=env)
    first = env_file.read_text()
    keys = dict(line.split("=", 1) for line in first.splitlines())
    for key in ("BATON_POSTGRES_PASSWORD", "BATON_SHOP_PASSWORD", "BATON_AIRFLOW_PASSWORD", "BATON_JWT_SECRET"):
        assert len(keys[key]) >= 20, key
    assert len(keys["BATON_FERNET_KEY"]) == 44  # 32 bytes, url-safe base64
    assert oct(env_file.stat().st_mode)[-3:] == "600"
    # The stack's compose project is the checkout's, kept in the file; the sample source's URL too.
    assert keys["BATON_PROJECT"] == "client-a"
    assert keys["BATON_SHOP_DB_URL"] == f"postgresql://shop:{keys['BATON_SHOP_PASSWORD']}@source-db:5432/shop"
    subprocess.run(run, check=True, capture_output=True, env={**env, "BATON_PROJECT": "renamed"})
    assert env_file.read_text() == first, "a second run must keep the secrets and the project"


def test_the_compose_project_comes_from_the_checkout_folder(repo: Path, tmp_path: Path) -> None:
    probe = "probe: ; @echo $(BATON_PROJECT)"
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "BATON_ENV_FILE": str(tmp_path / "none.env")}
    out = subprocess.run(["make", "-s", "--eval", probe, "probe"], cwd=repo, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == re.sub(r"[^a-z0-9_-]", "-", repo.name.lower())
    (tmp_path / "kept.env").write_text("BATON_PROJECT=client-b\n")
    env["BATON_ENV_FILE"] = str(tmp_path / "kept.env")
    out = subprocess.run(["make", "-s", "--eval", probe, "probe"], cwd=repo, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "client-b"


def test_only_init_holds_the_admin_password_and_the_cli_signs_in_as_the_automation_account(compose: dict) -> None:
    def env(name: str) -> dict:
        return compose["services"][name].get("environment", {})

    holders = [name for name in compose["services"] if "BATON_AIRFLOW_PASSWORD" in env(name)]
    assert holders == ["airflow-init"]
    # The services that run task code or jobs read the sources' env file, never the whole env file.
    readers = {name: s["env_file"] for name, s in compose["services"].items() if "env_file" in s}
    assert readers == {name: ["${BATON_SOURCES_ENV_PATH:?set by make}"] for name in ("scheduler", "jobs")}
    assert "BATON_AIRFLOW_PASSWORD" not in compose["x-airflow"]["environment"]
    assert env("cli")["BATON_AUTOMATION_PASSWORD"] == "${BATON_AUTOMATION_PASSWORD}"
    assert env("airflow-init")["BATON_AUTOMATION_PASSWORD"].startswith("${BATON_AUTOMATION_PASSWORD:?")
    # The user service takes its password from `run -e`, never from a command line or a default.
    assert "BATON_USER_PASSWORD" not in str(compose["services"]["user"])


def test_the_sources_env_file_holds_the_declared_secrets_and_no_password(repo: Path, tmp_path: Path) -> None:
    env_file, out, sources = tmp_path / "stack.env", tmp_path / "stack.env.sources", tmp_path / "sources.json"
    env_file.write_text(
        "BATON_AIRFLOW_PASSWORD=admin-secret\nBATON_AUTOMATION_PASSWORD=robot-secret\n"
        "BATON_USER_PASSWORD_ANN=ann-secret\nBATON_SHOP_DB_URL=postgresql://shop:pw@source-db/shop\n"
        "BATON_CRM_TOKEN=crm-token\nBATON_UNDECLARED=x\n"
    )
    sources.write_text(
        '[{"name": "files", "secrets": [], "folders": {"BATON_FILES_DIR": "files"}},\n'
        ' {"name": "shop", "secrets": [\n    "BATON_SHOP_DB_URL"\n  ]},\n'
        ' {"name": "crm", "secrets": ["BATON_CRM_TOKEN", "BATON_CRM_MISSING"]}]\n'
    )
    run = ["bash", str(repo / "compose" / "env-file.sh"), str(env_file), "--sources", str(sources), str(out)]
    subprocess.run(run, check=True, capture_output=True)
    assert out.read_text().splitlines() == [
        "BATON_CRM_TOKEN=crm-token",
        "BATON_SHOP_DB_URL=postgresql://shop:pw@source-db/shop",
    ]
    assert oct(out.stat().st_mode)[-3:] == "600"
    # The kit's own sources: the shop's URL only.
    run[4] = str(repo / "dags" / "baked" / "sources.json")
    subprocess.run(run, check=True, capture_output=True)
    assert out.read_text() == "BATON_SHOP_DB_URL=postgresql://shop:pw@source-db/shop\n"
    # A fresh clone before its first image build has no source list: nothing declared yet.
    run[4] = str(tmp_path / "not-baked-yet.json")
    subprocess.run(run, check=True, capture_output=True)
    assert out.read_text() == ""
