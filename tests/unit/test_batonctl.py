"""batonctl's cycle following, against a scripted API: which runs belong to the cycle, when a
cycle with a failed load is over, what the summary says. (The stack tests drive the real API.)"""

from __future__ import annotations

import time

import httpx
import pytest
import typer

from tools import batonctl
from tools.batonctl import cycle, follow_cycle, summary

T0 = "2026-11-25T10:00:00Z"


def _schedules() -> dict[str, dict]:
    """Each dbt DAG's asset expression as the REST API gives it (DAG details): from the real DAGs."""
    from airflow.serialization.serialized_objects import DagSerialization
    from baton.config import load_config
    from baton.dbt_dags import build_dbt_dags
    from baton.metadata import load_manifest, load_sources

    config = load_config(environ={"BATON_RUNNER": "subprocess"})
    dags = build_dbt_dags(config, load_manifest(config.metadata_dir), load_sources(config.metadata_dir))
    return {
        d.dag_id: DagSerialization.from_dict(DagSerialization.to_dict(d)).timetable.asset_condition.as_expression()
        for d in dags
    }


SCHEDULES = _schedules()


class ScriptedAirflow:
    """Answers like Airflow's REST API; each poll advances the script one step."""

    def __init__(self, steps: list[dict[str, str]], dags: list[str], reasons: dict[str, str] | None = None) -> None:
        self.steps, self.step, self.dag_ids = steps, 0, dags
        self.reasons = reasons or {}

    def dags(self):
        return [{"dag_id": d, "is_paused": False} for d in ["cycle", "meltano_state", *self.dag_ids]]

    def trigger(self, dag_id, conf=None):
        return self._run("cycle", "queued")

    def _run(self, dag_id: str, state: str) -> dict:
        return {
            "dag_id": dag_id,
            "dag_run_id": f"{dag_id}_1",
            "state": state,
            "run_after": T0,
            "start_date": T0,
            "end_date": T0 if state in ("success", "failed") else None,
        }

    def run(self, dag_id, run_id):
        self.step = min(self.step + 1, len(self.steps) - 1)
        return self._run("cycle", self.steps[self.step].get("cycle", "success"))

    def runs(self, dag_id="~", **params):
        return [self._run(d, st) for d, st in self.steps[self.step].items() if d != "cycle"]

    def asset_events(self, **params):
        if params.get("source_dag_id") == "cycle":
            return [{"extra": {"cycle_id": "2026-11-24"}}]
        return [{"extra": {"cycle_id": "2026-11-24", "rows": 42}}]

    def failed_tasks(self, dag_id, run_id):
        return ["build"] if dag_id.startswith("dbt_") else ["extract_load"]

    def reason(self, dag_id, run_id, task_id):
        return self.reasons.get(dag_id, "marketing did not land 2026-11-24: ingest_marketing failed: el: ERROR bad row")

    def dag_sources(self, dag_id):
        return batonctl.raw_sources(SCHEDULES[dag_id]) if dag_id in SCHEDULES else None


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda s: None)
    monkeypatch.setattr(cycle, "FAILED_GRACE_SECONDS", 0)


def test_a_green_cycle_follows_every_dag_to_its_end() -> None:
    af = ScriptedAirflow(
        [
            {"cycle": "running"},
            {"ingest_shop": "running", "ingest_marketing": "running"},
            {"ingest_shop": "success", "ingest_marketing": "running", "dbt_finance": "running"},
            {
                "ingest_shop": "success",
                "ingest_marketing": "success",
                "dbt_finance": "success",
                "dbt_marketing": "success",
            },
        ],
        ["ingest_shop", "ingest_marketing", "dbt_finance", "dbt_marketing"],
    )
    result = follow_cycle(af, quiet=True)
    assert result.ok
    assert result.cycle_id == "2026-11-24"
    assert result.rows == {"ingest_shop": 42, "ingest_marketing": 42}
    assert {d: r["state"] for d, r in result.runs.items()} == {
        "cycle": "success",
        "ingest_shop": "success",
        "ingest_marketing": "success",
        "dbt_finance": "success",
        "dbt_marketing": "success",
    }


def test_a_failed_load_ends_the_cycle_without_waiting_for_its_domains() -> None:
    af = ScriptedAirflow(
        [
            {"cycle": "running"},
            {"ingest_shop": "failed", "ingest_marketing": "success"},
        ],
        ["ingest_shop", "ingest_marketing", "dbt_finance"],
    )
    result = follow_cycle(af, quiet=True, timeout=5)
    assert not result.ok
    rows = {row for col in summary(af, result).columns if col.header == "state" for row in col._cells}
    assert "failed (extract_load)" in rows
    assert "not run (shop did not land 2026-11-24)" in rows


def test_a_gate_that_stopped_a_domain_says_why() -> None:
    af = ScriptedAirflow(
        [
            {"cycle": "running"},
            {
                "ingest_shop": "success",
                "ingest_marketing": "failed",
                "dbt_finance": "success",
                "dbt_marketing": "failed",
            },
        ],
        ["ingest_shop", "ingest_marketing", "dbt_finance", "dbt_marketing"],
    )
    result = follow_cycle(af, quiet=True, timeout=5)
    assert result.reasons == {"dbt_marketing": af.reason("dbt_marketing", "", "build")}
    rows = {row for col in summary(af, result).columns if col.header == "state" for row in col._cells}
    assert "failed (build): marketing did not land 2026-11-24: ingest_marketing failed: el: ERROR bad row" in rows
    assert "dbt_marketing: marketing did not land 2026-11-24" in "\n".join(batonctl.failure_lines(result))


def test_a_domain_that_did_not_run_names_only_its_own_sources() -> None:
    assert batonctl.raw_sources(SCHEDULES["dbt_finance"]) == {"shop"}
    assert batonctl.raw_sources(SCHEDULES["dbt_marketing"]) == {"marketing", "shop"}
    af = ScriptedAirflow(
        [{"cycle": "running"}, {"ingest_shop": "success", "ingest_marketing": "failed", "dbt_finance": "success"}],
        ["ingest_shop", "ingest_marketing", "dbt_finance", "dbt_marketing"],
    )
    result = follow_cycle(af, quiet=True, timeout=5)
    rows = {row for col in summary(af, result).columns if col.header == "state" for row in col._cells}
    assert "not run (marketing did not land 2026-11-24)" in rows
    both_lost = ScriptedAirflow(
        [{"cycle": "running"}, {"ingest_shop": "failed", "ingest_marketing": "failed"}],
        ["ingest_shop", "ingest_marketing", "dbt_finance", "dbt_marketing"],
    )
    result = follow_cycle(both_lost, quiet=True, timeout=5)
    summary(both_lost, result)
    lines = batonctl.failure_lines(result)
    assert "dbt_finance: not run (shop did not land 2026-11-24)" in lines, lines
    assert "dbt_marketing: not run (marketing, shop did not land 2026-11-24)" in lines, lines


def test_a_build_whose_tests_failed_names_them_in_the_summary() -> None:
    why = "1 data test failed: in_range_stg_orders_order_total__1000000__0 (3 rows) (bad data: not retried)"
    af = ScriptedAirflow(
        [{"cycle": "running"}, {"ingest_shop": "success", "dbt_finance": "failed"}],
        ["ingest_shop", "dbt_finance"],
        reasons={"dbt_finance": why},
    )
    result = follow_cycle(af, quiet=True, timeout=5)
    rows = {row for col in summary(af, result).columns if col.header == "state" for row in col._cells}
    assert f"failed (build): {why}" in rows
    assert batonctl.failure_lines(result) == [f"dbt_finance: {why}"]


def test_the_login_hint_names_where_the_password_is_and_never_shows_one() -> None:
    hint = batonctl.login_hint("http://127.0.0.1:8080", "admin")
    assert "user [bold]admin[/]" in hint and "BATON_AIRFLOW_PASSWORD" in hint and "compose/.env" in hint
    assert "make user NAME=" in hint


def test_batonctl_signs_in_as_the_automation_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_AIRFLOW_URL", "http://api-server:8080")
    monkeypatch.setenv("BATON_AUTOMATION_USER", "baton-automation")
    monkeypatch.setenv("BATON_AUTOMATION_PASSWORD", "s3cret-automation")
    monkeypatch.setenv("BATON_AIRFLOW_PASSWORD", "s3cret-admin")
    af = batonctl.client_from_env()
    assert (af.user, af.password) == ("baton-automation", "s3cret-automation")
    assert "s3cret" not in repr(af)


def test_batonctl_without_the_automation_password_says_which_setting_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATON_AIRFLOW_URL", "http://api-server:8080")
    monkeypatch.setenv("BATON_AUTOMATION_USER", "baton-automation")
    monkeypatch.delenv("BATON_AUTOMATION_PASSWORD", raising=False)
    with pytest.raises(typer.Exit):
        batonctl.client_from_env()
    assert "BATON_AUTOMATION_PASSWORD not set" in capsys.readouterr().out


def _answering(statuses: list[int]) -> tuple[batonctl.Airflow, list[str]]:
    """A client whose server answers each request with the next of `statuses` (the last one repeats;
    0: it does not answer in time)."""
    import httpx

    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(200, json={"access_token": "t"})
        asked.append(request.method)
        status = statuses[min(len(asked), len(statuses)) - 1]
        if status == 0:  # no answer in time
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(status, json={"dags": ["ok"]} if status == 200 else {"detail": "database restarting"})

    af = batonctl.Airflow("http://api-server:8080", "baton-automation", "pw")
    af.http = httpx.Client(base_url=af.url, transport=httpx.MockTransport(answer))
    return af, asked


def test_a_read_the_server_fails_to_answer_is_asked_again_then_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    af, asked = _answering([503, 502, 200])
    assert af.dags() == ["ok"] and len(asked) == 3 and slept == [2, 4]
    af, asked = _answering([503])
    with pytest.raises(batonctl.StackError, match=r"GET /api/v2/dags -> 503: .*database restarting"):
        af.dags()
    assert len(asked) == 5, "four retries (2, 4, 6, 8 s), then the error"
    af, asked = _answering([503])
    with pytest.raises(batonctl.StackError, match="-> 503"):
        af.trigger("cycle")
    assert asked == ["POST"], "a write is never sent twice"


def test_a_read_the_server_is_too_busy_to_answer_in_time_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    af, asked = _answering([0, 200])
    assert af.dags() == ["ok"] and len(asked) == 2 and slept == [2]
    af, asked = _answering([0])
    with pytest.raises(batonctl.StackError, match=r"GET /api/v2/dags: ReadTimeout"):
        af.dags()
    assert len(asked) == 5
    af, asked = _answering([0])
    with pytest.raises(httpx.ReadTimeout):
        af.trigger("cycle")
    assert asked == ["POST"], "a write is never sent twice"
