"""Who may do what in the sandbox (FAB auth manager): anonymous, Viewer, User, Op, in a real
browser (Debian's Chromium through playwright) and through the REST API; and no password, key or
token in the stack's logs, the task logs of a cycle, or the output of make off a terminal."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.browser import chromium, sign_in
from tests.conftest import REPO, setting
from tests.stack.conftest import AIRFLOW_PORT, PROJECT, Stack
from tools.batonctl import Airflow, failure_lines, follow_cycle

BASE = f"http://127.0.0.1:{AIRFLOW_PORT}"
TIMEOUT = 120.0  # a loaded 2-core machine answers slowly; nothing here waits for this unless it must
JWT = re.compile(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}")
TRIGGER = {"logical_date": None, "conf": {}}


def log_line(content: list | str) -> str:
    """A line of a task log as the UI shows it on opening the log, which it scrolls to the end:
    the start of the last plain line (not a group marker, no JSON)."""
    if isinstance(content, str):
        content = content.splitlines()
    events = [e.get("event", "") if isinstance(e, dict) else str(e) for e in content]
    for event in reversed(events):
        if len(event) >= 20 and not event.startswith("::") and "{" not in event:
            return event[:40]
    raise AssertionError(f"no plain line in the task log: {str(content)[:300]}")


def token(user: str, password: str) -> str:
    resp = httpx.post(f"{BASE}/auth/token", json={"username": user, "password": password}, timeout=TIMEOUT)
    assert resp.status_code == 201, f"{user}: /auth/token -> {resp.status_code} {resp.text[:200]}"
    return resp.json()["access_token"]


def api(tok: str | None, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    return httpx.request(method, f"{BASE}/api/v2{path}", headers=headers, timeout=TIMEOUT, **kwargs)


@pytest.fixture(scope="module")
def people(stack: Stack) -> dict[str, tuple[str, str]]:
    """role -> (user, password). The Viewer through `make user` as a person adds one (the password
    lands in the env file); the others through the FAB API as the admin, which is quicker."""
    stack.make("user", "NAME=test-viewer", "ROLE=Viewer")
    found = {"Viewer": ("test-viewer", stack.setting("BATON_USER_PASSWORD_TEST_VIEWER"))}
    admin = token(setting("BATON_AIRFLOW_USER"), stack.setting("BATON_AIRFLOW_PASSWORD"))
    for role in ("User", "Op"):
        name, password = f"test-{role.lower()}", f"pw-{role.lower()}-{stack.setting('BATON_JWT_SECRET')[:16]}"
        body = {"username": name, "email": f"{name}@baton.invalid", "first_name": name, "last_name": "-"}
        resp = httpx.post(
            f"{BASE}/auth/fab/v1/users",
            headers={"Authorization": f"Bearer {admin}"},
            json={**body, "password": password, "roles": [{"name": role}]},
            timeout=TIMEOUT,
        )
        assert resp.status_code in (200, 409), resp.text[:300]
        found[role] = (name, password)
    return found


@pytest.fixture(scope="module")
def tokens(people: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {role: token(*creds) for role, creds in people.items()}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def test_anonymous_gets_the_login_page_and_the_api_answers_401(stack: Stack, browser) -> None:
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    page.goto(f"{BASE}/dags/cycle")
    page.wait_for_selector("input[name=password]")
    assert "/auth/login" in page.url
    assert api(None, "GET", "/dags").status_code == 401
    forged = api("not-a-token", "GET", "/dags")  # Airflow answers a token it cannot verify with 403
    assert forged.status_code in (401, 403) and "dags" not in forged.json(), forged.text[:200]
    bad = httpx.post(f"{BASE}/auth/token", json={"username": "admin", "password": "wrong"}, timeout=TIMEOUT)
    assert bad.status_code == 401


def test_the_automation_account_is_an_op(stack: Stack) -> None:
    user = setting("BATON_AUTOMATION_USER")
    admin = token(setting("BATON_AIRFLOW_USER"), stack.setting("BATON_AIRFLOW_PASSWORD"))
    resp = httpx.get(f"{BASE}/auth/fab/v1/users/{user}", headers={"Authorization": f"Bearer {admin}"}, timeout=TIMEOUT)
    assert resp.status_code == 200 and [r["name"] for r in resp.json()["roles"]] == ["Op"]


def test_a_viewer_sees_dags_runs_and_logs_but_changes_nothing(stack: Stack, tokens, people, browser) -> None:
    tok = tokens["Viewer"]
    dags = api(tok, "GET", "/dags", params={"limit": 100})
    assert dags.status_code == 200 and {"cycle", "ingest_shop", "meltano_state"} <= {
        d["dag_id"] for d in dags.json()["dags"]
    }
    runs = api(tok, "GET", "/dags/ingest_shop/dagRuns", params={"limit": 1, "order_by": "-run_after"}).json()
    run_id = runs["dag_runs"][0]["dag_run_id"]
    tis = api(tok, "GET", f"/dags/ingest_shop/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    ti = next(t for t in tis if t["try_number"] >= 1)
    log = api(tok, "GET", f"/dags/ingest_shop/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}")
    assert log.status_code == 200 and log.json()["content"], "a Viewer reads task logs"
    # Trigger, clear, pause: 403.
    assert api(tok, "POST", "/dags/cycle/dagRuns", json=TRIGGER).status_code == 403
    clear = {"dry_run": True, "only_failed": False, "dag_run_id": run_id}
    assert api(tok, "POST", "/dags/ingest_shop/clearTaskInstances", json=clear).status_code == 403
    assert api(tok, "PATCH", "/dags/ingest_shop", json={"is_paused": False}).status_code == 403
    # The UI: the Viewer signs in with the form and sees the DAGs, the run and the task's log.
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    sign_in(page, BASE, *people["Viewer"])
    page.goto(f"{BASE}/dags")
    page.get_by_text("ingest_shop").first.wait_for()
    page.goto(f"{BASE}/dags/ingest_shop/runs/{quote(run_id, safe='')}")
    page.get_by_text(ti["task_id"]).first.wait_for()
    page.goto(f"{BASE}/dags/ingest_shop/runs/{quote(run_id, safe='')}/tasks/{ti['task_id']}")
    page.get_by_text(log_line(log.json()["content"])).first.wait_for()
    # What the UI's buttons call, with the UI's session: trigger, clear, pause answer 403 too.
    assert page.request.get(f"{BASE}/api/v2/dags/ingest_shop", timeout=TIMEOUT * 1000).status == 200
    ui = {
        "trigger": page.request.post(f"{BASE}/api/v2/dags/cycle/dagRuns", data=TRIGGER, timeout=TIMEOUT * 1000),
        "clear": page.request.post(
            f"{BASE}/api/v2/dags/ingest_shop/clearTaskInstances", data=clear, timeout=TIMEOUT * 1000
        ),
        "pause": page.request.patch(
            f"{BASE}/api/v2/dags/ingest_shop", data={"is_paused": True}, timeout=TIMEOUT * 1000
        ),
    }
    assert {what: r.status for what, r in ui.items()} == {"trigger": 403, "clear": 403, "pause": 403}


def test_meltano_state_needs_op_or_admin(stack: Stack, tokens, people, browser) -> None:
    request = {"logical_date": None, "conf": {"action": "list"}}
    for role in ("Viewer", "User"):
        assert api(tokens[role], "POST", "/dags/meltano_state/dagRuns", json=request).status_code == 403, role
    # A User still triggers and edits the other DAGs (the paused flag set to what it is).
    assert api(tokens["User"], "PATCH", "/dags/ingest_shop", json={"is_paused": False}).status_code == 200
    # The Op, signed in in the browser: the UI's session may change meltano_state; then a `list` run.
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    sign_in(page, BASE, *people["Op"])
    paused = page.request.get(f"{BASE}/api/v2/dags/meltano_state", timeout=TIMEOUT * 1000).json()["is_paused"]
    assert page.request.patch(
        f"{BASE}/api/v2/dags/meltano_state", data={"is_paused": paused}, timeout=TIMEOUT * 1000
    ).ok
    op = Airflow(BASE, *people["Op"], timeout=TIMEOUT)
    op.unpause("meltano_state")
    run = op.trigger("meltano_state", {"action": "list"})
    try:
        for _ in range(150):
            state = op.run("meltano_state", run["dag_run_id"])["state"]
            if state in ("success", "failed"):
                break
            time.sleep(2)
        assert state == "success", f"meltano_state list as an Op: {state}"
    finally:
        op.pause("meltano_state")


def test_an_op_triggers_a_cycle_and_no_secret_reaches_a_log(stack: Stack, tokens, people) -> None:
    op = Airflow(BASE, *people["Op"], timeout=TIMEOUT)
    result = follow_cycle(op, quiet=True, timeout=1200)
    assert result.ok, failure_lines(result)
    secrets = {
        "the admin's password": stack.setting("BATON_AIRFLOW_PASSWORD"),
        "the automation password": stack.setting("BATON_AUTOMATION_PASSWORD"),
        "the metadata database's password": stack.setting("BATON_POSTGRES_PASSWORD"),
        "the shop database's password": stack.setting("BATON_SHOP_PASSWORD"),
        "the Fernet key": stack.setting("BATON_FERNET_KEY"),
        "the JWT secret": stack.setting("BATON_JWT_SECRET"),
        "the session key": stack.setting("BATON_API_SECRET_KEY"),
        **{f"{role}'s password": creds[1] for role, creds in people.items()},
        **{f"{role}'s token": tok for role, tok in tokens.items()},
    }
    # `make up` off a terminal (stdout a pipe), as CI and scripts run it.
    up = subprocess.run(["make", "up"], cwd=REPO, env=stack.env, capture_output=True, text=True, check=False)
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    assert "BATON_AIRFLOW_PASSWORD" in up.stdout, "make up says where the admin's password is"
    # Every container's log (compose services and the job containers still there).
    logs = {
        c.name: c.logs().decode(errors="replace")
        for c in stack.docker.containers.list(all=True, filters={"label": f"com.docker.compose.project={PROJECT}"})
    }
    # The task logs of the Op's cycle, read as the admin.
    admin = Airflow(BASE, setting("BATON_AIRFLOW_USER"), stack.setting("BATON_AIRFLOW_PASSWORD"), timeout=TIMEOUT)
    for dag_id, run in result.runs.items():
        for ti in admin.request("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"]:
            for attempt in range(1, (ti["try_number"] or 0) + 1):
                content = admin.request(
                    "GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/{ti['task_id']}/logs/{attempt}"
                )
                logs[f"task log {dag_id}.{ti['task_id']} try {attempt}"] = str(content)
    assert any("task log" in k for k in logs) and len(logs) > 5
    # Every make run of the session: the first `make up` (env file written, images built, first
    # cycle) and `make user` included.
    assert any(what == "make up" for what, _ in stack.outputs)
    made = {f"{what} (#{i})": text for i, (what, text) in enumerate(stack.outputs)}
    places = {"make up": up.stdout + up.stderr, **made, **logs}
    leaks = [f"{what} in {where}" for where, text in places.items() for what, s in secrets.items() if s in text]
    leaks += [f"a JWT in {where}" for where, text in places.items() if JWT.search(text)]
    assert not leaks, leaks
