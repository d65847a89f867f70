"""A small client of Airflow's REST API (/api/v2), and the errors a data engineer acts on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from baton_contract.naming import RAW_PREFIX, source_of
from baton_contract.waiting import WaitTimeout, poll, retry

# A read the server failed to answer (its database restarting, say) is asked again after each delay.
READ_RETRY_DELAYS = (2, 4, 6, 8)
# How often a wait on the stack looks again.
POLL_SECONDS = 2


class StackError(RuntimeError):
    """Something a data engineer must act on; the message says what and where."""


class _Unanswered(StackError):
    """A GET the server answered with a 5xx, or did not answer in time: asked again, then reported
    as it is."""


def until(check: Callable[[], Any], timeout: float, failure: Callable[[], str]) -> Any:
    """check()'s first truthy answer, looked at every POLL_SECONDS; after `timeout` seconds a
    StackError saying failure()."""
    try:
        return poll(check, timeout=timeout, every=POLL_SECONDS, what="the stack")
    except WaitTimeout:
        raise StackError(failure()) from None


class Airflow:
    """A small client of Airflow's REST API, authenticated with a token from /auth/token (the FAB
    auth manager's: a user name and password in, a JWT out)."""

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        timeout: float = 20.0,
        password_key: str = "BATON_AUTOMATION_PASSWORD",
    ) -> None:
        self.url = url.rstrip("/")
        self.user, self.password = user, password
        # Where the password lives, for messages (never the password itself).
        self.password_key = password_key
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self._token: str | None = None

    def __repr__(self) -> str:  # the password and the token stay out of tracebacks and logs
        return f"Airflow({self.url!r}, user={self.user!r})"

    def _login(self) -> None:
        if not self.password:
            raise StackError(f"{self.password_key} is empty: it is in the stack's env file (compose/.env)")
        resp = self.http.post("/auth/token", json={"username": self.user, "password": self.password})
        if resp.status_code in (400, 401, 403):
            raise StackError(
                f"Airflow at {self.url} refused user {self.user!r}: check {self.password_key} in compose/.env "
                "(a value changed under a running stack takes effect with `make up`)"
            )
        resp.raise_for_status()
        self._token = resp.json()["access_token"]

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token}"}
        return self.http.request(method, f"/api/v2{path}", headers=headers, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._token is None:
            self._login()

        def once() -> Any:
            try:
                resp = self._send(method, path, **kwargs)
            except httpx.TransportError as exc:  # a read the server was too busy to answer in time
                if method == "GET":
                    raise _Unanswered(f"{method} /api/v2{path}: {exc.__class__.__name__} {exc}") from exc
                raise
            if resp.status_code == 401:  # token expired: log in again once
                self._login()
                resp = self._send(method, path, **kwargs)
            failed = f"{method} /api/v2{path} -> {resp.status_code}"
            if method == "GET" and resp.status_code >= 500:
                raise _Unanswered(f"{failed}: {resp.text[:500]}")
            if resp.status_code == 403:
                raise StackError(
                    f"{failed}: user {self.user!r} may not do this; its roles do not allow it: {resp.text[:300]}"
                )
            if resp.is_error:
                raise StackError(f"{failed}: {resp.text[:500]}")
            return resp.json() if resp.content else None

        return retry(once, delays=READ_RETRY_DELAYS, when=lambda exc: isinstance(exc, _Unanswered))

    def healthy(self) -> bool:
        try:
            resp = self.http.get("/api/v2/monitor/health")
        except httpx.HTTPError:
            return False
        if resp.status_code != 200:
            return False
        health = resp.json()
        return all(health.get(part, {}).get("status") == "healthy" for part in ("metadatabase", "scheduler"))

    def wait_healthy(self, timeout: float) -> None:
        until(
            self.healthy, timeout, lambda: f"Airflow at {self.url} is not healthy after {timeout:.0f}s: see `make logs`"
        )

    def dags(self, stale: bool = False) -> list[dict[str, Any]]:
        """The kit's DAGs; with stale=True also those the dag-processor marked stale (no longer
        found in their file)."""
        params: dict[str, Any] = {"limit": 1000, "tags": "baton"}
        if stale:
            params["exclude_stale"] = False
        return self.request("GET", "/dags", params=params)["dags"]

    def delete_dag(self, dag_id: str) -> None:
        """Delete a DAG's record and its runs (refused while one of its tasks runs)."""
        self.request("DELETE", f"/dags/{dag_id}")

    def reparse(self, file_token: str) -> None:
        """Ask the dag-processor to parse a DAG file again, ahead of its schedule."""
        self.request("PUT", f"/parseDagFile/{file_token}")

    def import_errors(self) -> list[dict[str, Any]]:
        return self.request("GET", "/importErrors", params={"limit": 100})["import_errors"]

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def unpause(self, dag_id: str) -> None:
        self.set_paused(dag_id, False)

    def pause(self, dag_id: str) -> None:
        self.set_paused(dag_id, True)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})

    def runs(self, dag_id: str = "~", **params: Any) -> list[dict[str, Any]]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100, **params})["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def asset_events(self, **params: Any) -> list[dict[str, Any]]:
        return self.request("GET", "/assets/events", params={"limit": 100, **params})["asset_events"]

    def failed_tasks(self, dag_id: str, run_id: str) -> list[str]:
        tis = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        return [ti["task_id"] for ti in tis["task_instances"] if ti["state"] in ("failed", "upstream_failed")]

    def dag_sources(self, dag_id: str) -> set[str] | None:
        """The sources a DAG waits for: the raw_<source> assets of its schedule (a dbt DAG's are
        the sources its models read); None when Airflow does not say."""
        try:
            details = self.request("GET", f"/dags/{dag_id}/details")
        except StackError:
            return None
        expression = (details or {}).get("asset_expression")
        return raw_sources(expression) if expression else None

    def reason(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        """The `reason` XCom a task leaves when it stops a run: a dbt DAG's gate ("marketing did not
        land 2026-11-25: ...") or its failed build ("1 data test failed: in_range_stg_orders_order_total
        (3 rows) (bad data: not retried)"); None when it left none."""
        try:
            entry = self.request(
                "GET",
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/reason",
                params={"deserialize": True, "stringify": False},
            )
        except StackError:
            return None
        value = (entry or {}).get("value")
        return str(value) if value else None


def raw_sources(expression: Any) -> set[str]:
    """The source names of the raw_<source> assets anywhere in a DAG's asset expression (as the
    REST API gives it: nested all/any lists of {"asset": {"name", "uri", ...}})."""
    found: set[str] = set()
    if isinstance(expression, dict):
        name = expression.get("name")
        if isinstance(name, str) and name.startswith(RAW_PREFIX) and "uri" in expression:
            found.add(source_of(name))
        for value in expression.values():
            found |= raw_sources(value)
    elif isinstance(expression, list):
        for value in expression:
            found |= raw_sources(value)
    return found
