"""The kit's DAGs as Airflow lists them: waiting for the dag-processor, and the DAGs the DAG folder
no longer defines (a source or a domain removed), which `prune` deletes."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from baton_contract.naming import CYCLE, DBT_PREFIX, INGEST_PREFIX
from baton_contract.waiting import WaitTimeout, poll

from .api import POLL_SECONDS, Airflow, StackError, until

# The DAGs one parse of a file writes share one moment (within a second); a DAG the file no longer
# defines keeps the time of the last parse that did, at least one refresh interval (30 s) older.
GONE_LAG_SECONDS = 15
# How long to wait for the dag-processor to parse every DAG file again on request.
REPARSE_TIMEOUT_SECONDS = 300
# Longer than a parse of one DAG file takes (under a second here) plus the second `make up`'s
# whole-second start may be early by: a parse that ended this long after that start began after it.
PARSE_SECONDS = 3


def parse_time(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts) if ts else None


def wait_for_dags(af: Airflow, timeout: float) -> list[dict[str, Any]]:
    """The kit's DAGs once the dag-processor has parsed every file; import errors fail fast."""
    ids: set[str] = set()

    def parsed() -> list[dict[str, Any]] | None:
        errors = af.import_errors()
        if errors:
            lines = "\n".join(f"  {e['filename']}:\n    {e['stack_trace'].strip().splitlines()[-1]}" for e in errors)
            raise StackError(f"DAG files fail to import (fix them; the dag-processor re-reads them):\n{lines}")
        dags = af.dags()
        ids.clear()
        ids.update(d["dag_id"] for d in dags)
        ingestion, dbt = (any(i.startswith(prefix) for i in ids) for prefix in (INGEST_PREFIX, DBT_PREFIX))
        return dags if CYCLE in ids and ingestion and dbt else None

    return until(
        parsed,
        timeout,
        lambda: f"after {timeout:.0f}s Airflow lists only {sorted(ids)}: see `make logs SERVICE=dag-processor`",
    )


def _file(dag: dict[str, Any]) -> tuple[str | None, str | None]:
    return dag.get("bundle_name"), dag.get("relative_fileloc") or dag.get("fileloc")


def gone_dags(dags: list[dict[str, Any]]) -> set[str]:
    """DAGs that no longer exist: marked stale, or left behind by their file's latest parse (its
    other DAGs were parsed at least GONE_LAG_SECONDS later: the file no longer defines them, and
    the dag-processor marks them stale only about a minute later)."""
    newest: dict[tuple[str | None, str | None], datetime] = {}
    for dag in dags:
        parsed = parse_time(dag.get("last_parsed_time"))
        if parsed and not dag.get("is_stale"):
            newest[_file(dag)] = max(parsed, newest.get(_file(dag), parsed))

    def left_behind(dag: dict[str, Any]) -> bool:
        parsed = parse_time(dag.get("last_parsed_time"))
        return parsed is not None and (newest[_file(dag)] - parsed).total_seconds() > GONE_LAG_SECONDS

    return {d["dag_id"] for d in dags if d.get("is_stale") or left_behind(d)}


def live_dags(af: Airflow) -> list[dict[str, Any]]:
    """The kit's DAGs that exist now: listed, not stale, not left behind by their file's parse."""
    dags = af.dags()
    gone = gone_dags(dags)
    return [d for d in dags if d["dag_id"] not in gone]


@dataclass
class Pruned:
    current: list[dict[str, Any]]  # the DAGs a parse after the request defined
    deleted: list[str]  # the DAGs deleted: no longer defined
    kept: list[str] = field(default_factory=list)  # not deleted: "dag_id: why"


def prune(af: Airflow, timeout: float = REPARSE_TIMEOUT_SECONDS, parsed_since: datetime | None = None) -> Pruned:
    """Delete the DAGs the DAG folder no longer defines (a source or a domain removed).

    Every DAG file is parsed again on request; a DAG is current when that parse wrote it, gone when
    its file's parse no longer did or the dag-processor marked it stale. Gone DAGs are deleted
    (their runs too), so no cycle triggers or waits on them and no `make up` unpauses them.

    `parsed_since`: when the DAG files were last changed at the latest (`make up` passes its own
    start). A file the dag-processor has parsed since then (it parses every file as it starts) is
    not asked for again: that parse saw the file as it is."""
    asked = datetime.now(UTC)
    listed = af.dags(stale=True)
    files = {_file(d): d["file_token"] for d in listed if not d["is_stale"] and d.get("file_token")}
    since: dict[tuple[str | None, str | None], datetime] = {}
    if parsed_since:  # a parse that ended PARSE_SECONDS after the files' last change began after it
        begun = parsed_since + timedelta(seconds=PARSE_SECONDS)
        for dag in listed:
            parsed = parse_time(dag.get("last_parsed_time"))
            if parsed and parsed > begun and not dag["is_stale"]:
                since[_file(dag)] = begun
    for file, token in files.items():
        if file not in since:
            since[file] = asked
            af.reparse(token)
    dags: list[dict[str, Any]] = []
    fresh: set[tuple[str | None, str | None]] = set()

    def parsed_after(dag: dict[str, Any]) -> bool:  # parsed after the request or the files' last change
        parsed = parse_time(dag.get("last_parsed_time"))
        return parsed is not None and parsed > since.get(_file(dag), asked)

    def parsed_again() -> bool:
        dags[:] = af.dags(stale=True)
        fresh.clear()
        fresh.update(_file(d) for d in dags if parsed_after(d) and not d["is_stale"])
        return set(files) <= fresh

    # A file not parsed again in time is left as it is (below).
    with contextlib.suppress(WaitTimeout):
        poll(parsed_again, timeout=timeout, every=POLL_SECONDS, what="every DAG file parsed again")
    left_behind = gone_dags(dags)  # a later parse of the same file no longer wrote them
    current, gone, unsure = [], [], []
    for dag in dags:
        if dag["is_stale"]:
            gone.append(dag["dag_id"])
        elif _file(dag) not in fresh:
            unsure.append(dag["dag_id"])  # its file was not parsed again in time: left as it is
        elif parsed_after(dag) and dag["dag_id"] not in left_behind:
            current.append(dag)
        else:
            gone.append(dag["dag_id"])
    result = Pruned(current=current, deleted=[])
    for dag_id in sorted(gone):
        try:
            af.delete_dag(dag_id)
            result.deleted.append(dag_id)
        except StackError as exc:
            af.pause(dag_id)
            result.kept.append(f"{dag_id}: paused, not deleted ({exc})")
    result.kept += [f"{d}: its file was not parsed again within {timeout:.0f}s" for d in sorted(unsure)]
    return result
