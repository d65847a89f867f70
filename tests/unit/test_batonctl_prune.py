"""batonctl and DAGs that no longer exist (a source or a domain removed), against a scripted API:
which DAGs are gone, what `up` deletes and never unpauses, and that a cycle never waits on one.
(tests/stack/test_onboarding.py removes a source from a real stack.)"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tools.batonctl import StackError, follow_cycle, gone_dags, prune

INGESTION, DBT, CYCLE = "ingestion.py", "dbt.py", "cycle.py"


def _at(seconds_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()


def _dag(dag_id: str, file: str, parsed: str | None, stale: bool = False, paused: bool = False) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "bundle_name": "dags-folder",
        "relative_fileloc": file,
        "file_token": f"token-{file}",
        "last_parsed_time": parsed,
        "is_stale": stale,
        "is_paused": paused,
    }


def test_a_dag_its_file_no_longer_defines_is_gone_before_airflow_marks_it_stale() -> None:
    dags = [
        _dag("ingest_shop", INGESTION, _at(5)),
        _dag("ingest_marketing", INGESTION, _at(5)),
        _dag("ingest_crm", INGESTION, _at(65)),  # the parse 60 s later no longer wrote it
        _dag("dbt_sales", DBT, _at(400), stale=True),
        _dag("dbt_finance", DBT, _at(20)),
        _dag("cycle", CYCLE, _at(300)),  # alone in its file: old, but nothing left it behind
    ]
    assert gone_dags(dags) == {"ingest_crm", "dbt_sales"}


class ParsingAirflow:
    """Answers like Airflow's REST API for DAGs: a re-parse request rewrites the DAGs its file still
    defines, with the time of the parse."""

    def __init__(self, dags: list[dict[str, Any]], defined: set[str], running: set[str] = frozenset()) -> None:
        self._dags = {d["dag_id"]: d for d in dags}
        self.defined, self.running = defined, running
        self.deleted: list[str] = []
        self.paused: list[str] = []
        self.unpaused: list[str] = []
        self.reparsed: list[str] = []

    def dags(self, stale: bool = False) -> list[dict[str, Any]]:
        return [dict(d) for d in self._dags.values() if stale or not d["is_stale"]]

    def reparse(self, file_token: str) -> None:
        self.reparsed.append(file_token)
        now = datetime.now(UTC).isoformat()
        for dag in self._dags.values():
            if dag["file_token"] == file_token and dag["dag_id"] in self.defined:
                dag["last_parsed_time"] = now

    def delete_dag(self, dag_id: str) -> None:
        if dag_id in self.running:
            raise StackError(f"DELETE /api/v2/dags/{dag_id} -> 409: Task instances of dag are still running")
        self.deleted.append(dag_id)
        del self._dags[dag_id]

    def pause(self, dag_id: str) -> None:
        self.paused.append(dag_id)
        self._dags[dag_id]["is_paused"] = True


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda s: None)


def test_prune_deletes_what_the_folder_no_longer_defines_and_keeps_the_rest() -> None:
    af = ParsingAirflow(
        [
            _dag("cycle", CYCLE, _at(3), paused=True),
            _dag("ingest_shop", INGESTION, _at(3), paused=True),
            _dag("ingest_crm", INGESTION, _at(3), paused=True),  # removed, not parsed since
            _dag("dbt_finance", DBT, _at(3), paused=True),
            _dag("dbt_old", DBT, _at(900), stale=True),
        ],
        defined={"cycle", "ingest_shop", "dbt_finance"},
    )
    pruned = prune(af, timeout=5)
    assert sorted(af.reparsed) == ["token-cycle.py", "token-dbt.py", "token-ingestion.py"]
    assert pruned.deleted == ["dbt_old", "ingest_crm"] == af.deleted
    assert sorted(d["dag_id"] for d in pruned.current) == ["cycle", "dbt_finance", "ingest_shop"]
    assert pruned.kept == []


def test_prune_pauses_a_gone_dag_it_cannot_delete_yet_and_says_so() -> None:
    af = ParsingAirflow(
        [_dag("ingest_shop", INGESTION, _at(3)), _dag("ingest_crm", INGESTION, _at(3))],
        defined={"ingest_shop"},
        running={"ingest_crm"},
    )
    pruned = prune(af, timeout=5)
    assert pruned.deleted == [] and af.paused == ["ingest_crm"]
    assert pruned.kept[0].startswith("ingest_crm: paused, not deleted") and "409" in pruned.kept[0]


def test_prune_leaves_a_file_it_could_not_see_parsed_again_and_never_counts_it_current() -> None:
    af = ParsingAirflow(
        [_dag("ingest_shop", INGESTION, _at(3)), _dag("dbt_finance", DBT, _at(3))],
        defined={"ingest_shop"},  # dbt.py's parse never lands (the dag-processor is stuck on it)
    )
    pruned = prune(af, timeout=0)
    assert af.deleted == []
    assert [d["dag_id"] for d in pruned.current] == ["ingest_shop"]
    assert pruned.kept == ["dbt_finance: its file was not parsed again within 0s"]


def test_a_file_the_dag_processor_parsed_since_make_up_began_is_not_asked_again() -> None:
    """After `make down`, the dag-processor parses every file as it starts: `make up` needs no
    second parse of those (it would wait for the dag-processor's next loop)."""
    af = ParsingAirflow(
        [
            _dag("cycle", CYCLE, _at(5), paused=True),
            _dag("ingest_shop", INGESTION, _at(5), paused=True),
            _dag("ingest_crm", INGESTION, _at(600), paused=True),  # removed before make up: not written since
            _dag("dbt_finance", DBT, _at(900), paused=True),  # not parsed since make up began
        ],
        defined={"cycle", "ingest_shop", "dbt_finance"},
    )
    pruned = prune(af, timeout=5, parsed_since=datetime.now(UTC) - timedelta(seconds=20))
    assert af.reparsed == ["token-dbt.py"]
    assert pruned.deleted == ["ingest_crm"] == af.deleted
    assert sorted(d["dag_id"] for d in pruned.current) == ["cycle", "dbt_finance", "ingest_shop"]


@pytest.mark.parametrize(
    "parsed_ago",
    [
        60,  # a running stack's parse: older than the files `make up` may have changed
        19,  # ended just after the files' last change (20 s ago): it may have read them before it
    ],
)
def test_a_parse_that_may_have_read_the_files_before_make_up_began_is_asked_again(parsed_ago: int) -> None:
    af = ParsingAirflow(
        [_dag("ingest_shop", INGESTION, _at(parsed_ago)), _dag("ingest_crm", INGESTION, _at(parsed_ago))],
        defined={"ingest_shop"},
    )
    pruned = prune(af, timeout=5, parsed_since=datetime.now(UTC) - timedelta(seconds=20))
    assert af.reparsed == ["token-ingestion.py"]
    assert pruned.deleted == ["ingest_crm"]


class CycleAirflow(ParsingAirflow):
    """A cycle whose ingest_crm DAG was removed: its run (set off by the cycle) never ends."""

    def __init__(self, dags: list[dict[str, Any]], defined: set[str], polls_until_gone: int) -> None:
        super().__init__(dags, defined)
        self.polls_until_gone, self.polls = polls_until_gone, 0

    def trigger(self, dag_id, conf=None):
        return self._run("cycle", "success")

    def _run(self, dag_id: str, state: str) -> dict[str, Any]:
        t0 = datetime.now(UTC).isoformat()
        return {"dag_id": dag_id, "dag_run_id": f"{dag_id}_1", "state": state, "run_after": t0, "start_date": t0}

    def run(self, dag_id, run_id):
        self.polls += 1
        if self.polls == self.polls_until_gone:  # the dag-processor parses every file again, 30 s on
            later = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
            for dag in self._dags.values():
                if dag["dag_id"] in self.defined:
                    dag["last_parsed_time"] = later
        return self._run("cycle", "success")

    def runs(self, dag_id="~", **params):
        return [self._run("ingest_shop", "success"), self._run("ingest_crm", "running")]

    def asset_events(self, **params):
        return [{"extra": {"cycle_id": "2026-11-24", "rows": 7}}]


def test_a_cycle_never_waits_on_a_dag_that_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Parsed the same moment as ingest_shop when the cycle starts: only the next parse shows it is gone.
    now = _at(0)
    af = CycleAirflow(
        [_dag("cycle", CYCLE, now), _dag("ingest_shop", INGESTION, now), _dag("ingest_crm", INGESTION, now)],
        defined={"cycle", "ingest_shop"},
        polls_until_gone=3,
    )
    clock = iter(range(0, 100_000, 20))  # each look at the clock: 20 s later
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    result = follow_cycle(af, quiet=True, timeout=3600)
    assert result.ok, result.runs
    assert "ingest_crm" not in result.runs and result.expected == ["ingest_shop"]


def test_a_dag_already_gone_is_not_expected_in_a_cycle() -> None:
    af = CycleAirflow(
        [
            _dag("cycle", CYCLE, _at(1)),
            _dag("ingest_shop", INGESTION, _at(1)),
            _dag("ingest_crm", INGESTION, _at(45)),
        ],
        defined={"cycle", "ingest_shop"},
        polls_until_gone=0,
    )
    result = follow_cycle(af, quiet=True, timeout=5)
    assert result.ok and result.expected == ["ingest_shop"]
