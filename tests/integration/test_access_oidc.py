"""Sign-in through an OpenID Connect provider, the first admin and the automation account, with the
image's own files: init.py, users.py and webserver_config.py run by Airflow's api-server (the FAB
auth manager) on this machine, against a real Postgres (testcontainers) and a real OIDC provider on
loopback (npm's oauth2-mock-server), in a real browser (Debian's Chromium)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.airflow_image import AIRFLOW, image_environment, run_init, wait_for
from tests.browser import chromium
from tests.conftest import REPO, free_port, stop, unavailable

PROVIDER_DIR = REPO / ".baton" / "oidc-provider"
PROVIDER_PACKAGE = "oauth2-mock-server@9"
ROLES = {"data-eng": "Op", "analysts": "Viewer"}


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """The OIDC provider: (issuer URL, the file naming who signs in next)."""
    if not shutil.which("node") or not shutil.which("npm"):
        unavailable("node and npm are needed for the OIDC provider (apt-get install nodejs npm)")
    PROVIDER_DIR.mkdir(parents=True, exist_ok=True)
    if not (PROVIDER_DIR / "node_modules" / "oauth2-mock-server").exists():
        (PROVIDER_DIR / "package.json").write_text('{"private": true, "type": "module"}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", PROVIDER_PACKAGE],
            cwd=PROVIDER_DIR,
            check=True,
        )
    shutil.copy(REPO / "tests" / "integration" / "oidc_provider.mjs", PROVIDER_DIR / "provider.mjs")
    claims = tmp_path_factory.mktemp("oidc") / "claims.json"
    claims.write_text("{}")
    port = free_port()
    log = claims.parent / "provider.log"
    with log.open("w") as out:
        command = ["node", "provider.mjs", str(port), str(claims)]
        proc = subprocess.Popen(command, cwd=PROVIDER_DIR, stdout=out, stderr=out)
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{issuer}/.well-known/openid-configuration", proc, 30, log)
        yield issuer, claims
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def airflow_env(postgres_image: str, tmp_path_factory) -> Iterator[dict[str, str]]:
    """Airflow's settings as the image has them (FAB auth manager, webserver_config.py), on a
    fresh Postgres; the kit's users module importable as in the image (baton_users)."""
    from testcontainers.community.postgres import PostgresContainer

    home = tmp_path_factory.mktemp("airflow-home")
    with PostgresContainer(postgres_image, username="airflow", password="airflow-pw", dbname="airflow") as pg:
        url = (
            f"postgresql+psycopg2://airflow:airflow-pw@{pg.get_container_host_ip()}:{pg.get_exposed_port(5432)}/airflow"
        )
        yield {
            **image_environment(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
            "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-secret-for-the-oidc-test-0123456789",
            "AIRFLOW__API__SECRET_KEY": "session-key-for-the-oidc-test-0123456789",
            "AIRFLOW__API__WORKERS": "1",
            "BATON_WAREHOUSE_POOL": "baton_warehouse",
            "BATON_AIRFLOW_USER": "admin",
            "BATON_AIRFLOW_PASSWORD": "first-admin-pw-0123",
            "BATON_AUTOMATION_USER": "baton-automation",
            "BATON_AUTOMATION_PASSWORD": "automation-pw-0123",
        }


@pytest.fixture(scope="module")
def first_init(airflow_env: dict[str, str]) -> str:
    return run_init(airflow_env)


@pytest.fixture(scope="module")
def api_server(airflow_env, first_init, provider, tmp_path_factory) -> Iterator[str]:
    issuer, _ = provider
    port = free_port()
    env = {
        **airflow_env,
        "BATON_OIDC_ISSUER": issuer,
        "BATON_OIDC_CLIENT_ID": "baton-airflow",
        "BATON_OIDC_CLIENT_SECRET": "oidc-client-secret-0123",
        "BATON_OIDC_ROLES": json.dumps(ROLES),
    }
    env.pop("BATON_AIRFLOW_PASSWORD")  # as in the stack: only init holds it
    log = tmp_path_factory.mktemp("api") / "api-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(AIRFLOW), "api-server", "--port", str(port)], env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/api/v2/version", proc, 600, log)
        yield base
    finally:
        stop(proc)
        secrets = ("first-admin-pw-0123", "automation-pw-0123", "oidc-client-secret-0123")
        assert not [s for s in secrets if s in log.read_text()], "a secret in the api-server's log"


def token(base: str, user: str, password: str) -> httpx.Response:
    return httpx.post(f"{base}/auth/token", json={"username": user, "password": password}, timeout=60)


def test_init_creates_the_roles_the_admin_and_the_automation_account_without_printing_a_password(
    first_init: str,
) -> None:
    assert "roles: Admin, Op, Public, User, Viewer" in first_init
    assert "user admin: created (Admin)" in first_init
    assert "user baton-automation: created (Op)" in first_init
    assert "first-admin-pw-0123" not in first_init and "automation-pw-0123" not in first_init


def test_sign_in_through_the_provider_gives_the_role_of_the_group(api_server: str, provider) -> None:
    _, claims = provider
    with chromium() as browser:
        for person, group, role in (("ada", "data-eng", "Op"), ("vic", "analysts", "Viewer"), ("nia", "sales", None)):
            who = {"preferred_username": person, "email": f"{person}@example.com", "groups": [group]}
            claims.write_text(json.dumps(who))
            page = browser.new_context().new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{api_server}/")
            page.wait_for_url("**/auth/login/**")  # the UI sends an anonymous visitor to the login page
            # The login page offers the provider; the provider approves and sends the browser back.
            page.click("#btn-signin-oidc")
            page.wait_for_url(lambda url: url.startswith(api_server) and "/auth/" not in url)
            dags = page.request.get(f"{api_server}/api/v2/dags")
            pause = page.request.patch(f"{api_server}/api/v2/dags/none", data={"is_paused": True})
            if role is None:  # in no mapped group: signed in, with no rights (BATON_OIDC_DEFAULT_ROLE)
                assert dags.status == 403, person
            else:
                assert dags.status == 200, person
                # An Op may change a DAG (this one does not exist: 404); a Viewer may not (403).
                assert pause.status == (404 if role == "Op" else 403), (person, pause.status, pause.text())


def test_local_accounts_keep_their_tokens_with_oidc_on(api_server: str) -> None:
    resp = token(api_server, "baton-automation", "automation-pw-0123")
    assert resp.status_code == 201
    dags = httpx.get(
        f"{api_server}/api/v2/dags", headers={"Authorization": f"Bearer {resp.json()['access_token']}"}, timeout=60
    )
    assert dags.status_code == 200
    assert token(api_server, "baton-automation", "wrong").status_code == 401
    assert httpx.get(f"{api_server}/api/v2/dags", timeout=60).status_code == 401


def test_a_new_admin_password_and_init_again_rotate_it(api_server: str, airflow_env: dict[str, str]) -> None:
    assert token(api_server, "admin", "first-admin-pw-0123").status_code == 201
    # The same image, settings and passwords: nothing to do (a restarted stack starts sooner).
    again = run_init(airflow_env)
    assert "nothing changed since the last run" in again and "airflow db migrate" not in again
    # An account deleted in the UI: the next init is a full one and creates it again.
    admin = token(api_server, "admin", "first-admin-pw-0123").json()["access_token"]
    gone = httpx.delete(
        f"{api_server}/auth/fab/v1/users/baton-automation", headers={"Authorization": f"Bearer {admin}"}, timeout=60
    )
    assert gone.status_code == 204, gone.text[:300]
    recreated = run_init(airflow_env)
    assert "user baton-automation: created (Op)" in recreated and "user admin: unchanged (Admin)" in recreated
    rotated = run_init({**airflow_env, "BATON_AIRFLOW_PASSWORD": "rotated-admin-pw-4567"})
    assert "user admin: password set" in rotated and "rotated-admin-pw-4567" not in rotated
    assert token(api_server, "admin", "first-admin-pw-0123").status_code == 401
    assert token(api_server, "admin", "rotated-admin-pw-4567").status_code == 201
