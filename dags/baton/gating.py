"""Cycle ids: where a run takes its cycle from, and the per-cycle gate of domain runs.

Airflow starts an asset-scheduled DAG once each of its assets has an event since its last run; it
does not care which day those events are about, and a run's triggering events never change. So
the gate of a domain looks again at every check (poke):

  the newest cycle      the cycle_id of the newest `cycle` event: the cycle the domain must build
  each source           the cycle_id of the newest event of each raw_<source> asset it reads
  a failed source       the ingestion of the newest cycle failed: the raw_<source> asset state
                        `ingestion` says so (written by the ingestion task), or the ingest_<source>
                        run the cycle event created ended failed (a worker that died mid-task)

decide() turns that into: go, wait, or stop at once with a reason ("marketing did not land
2026-11-25: ..."); a failed source is never waited on for hours, a stale mart never built silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from airflow.sdk import Asset
from baton_contract.naming import ingest_dag

from baton.assets import CYCLE_ID, source_of

log = logging.getLogger(__name__)

# Asset state key on raw_<source>: the newest ingestion try of the source, written by its task:
# {"cycle_id": ..., "run_id": ..., "state": "running" | "failed" | "landed", "error": ...}
INGESTION_STATE = "ingestion"


class MixedCyclesError(RuntimeError):
    """A domain run was fed by raw events of different cycles."""


class SourceNotLandedError(MixedCyclesError):
    """A source the domain reads failed to land the newest cycle."""


def newest_event(context: Mapping[str, Any], asset: Asset) -> Any:
    """The newest event of `asset` (one of the task's inlets), read now; None when it has none."""
    events = list(context["inlet_events"][asset].ascending(False).limit(1))
    return events[0] if events else None


def cycle_of(event: Any) -> str | None:
    return (event.extra or {}).get(CYCLE_ID) if event is not None else None


def newest_cycle_ids(context: Mapping[str, Any], assets: Iterable[Asset]) -> dict[str, str | None]:
    """asset name -> cycle_id of its newest event, read now (not the run's triggering events)."""
    return {asset.name: cycle_of(newest_event(context, asset)) for asset in assets}


def triggering_cycle_id(context: Mapping[str, Any], asset: Asset) -> str | None:
    """The cycle id of the newest event of `asset` among those that triggered this run (a run can
    consume several, e.g. after its DAG was paused, and Airflow does not order them); for a
    manual run (no triggering events), that of the asset's newest event."""
    triggering = context.get("triggering_asset_events") or {}
    events = list(triggering.get(asset) or []) if triggering else []
    if not events:
        return cycle_of(newest_event(context, asset))
    return cycle_of(max(events, key=lambda event: event.timestamp))


def ingestion_failure(state: Any, created_run: Any, source: str, cycle_id: str) -> str | None:
    """Why `source` did not land `cycle_id`, or None when it did not fail (landed, still running,
    or not started). `state` is the raw asset's INGESTION_STATE, `created_run` the ingest_<source>
    run the cycle event created (dag_id, run_id, state), if any."""
    if isinstance(state, dict) and state.get(CYCLE_ID) == cycle_id:
        if state.get("state") == "failed":
            return f"{ingest_dag(source)} failed: {state.get('error') or 'see its task log'}"
        died = created_run is not None and created_run.run_id == state.get("run_id") and created_run.state == "failed"
        return f"{ingest_dag(source)} run {created_run.run_id} failed" if died else None
    if created_run is not None and created_run.state == "failed":
        return f"{ingest_dag(source)} run {created_run.run_id} failed"
    return None


def _asset_state(context: Mapping[str, Any], asset: Asset) -> Any:
    try:
        return context["asset_state_store"][asset].get(INGESTION_STATE)
    except Exception as exc:  # no state store: the created runs still tell a failure
        log.debug("no asset state for %s: %s", asset.name, exc)
        return None


def landing_failures(context: Mapping[str, Any], raws: Iterable[Asset], cycle_event: Any) -> dict[str, str]:
    """asset name -> why its source did not land the cycle of `cycle_event` (failed ones only)."""
    cycle_id = cycle_of(cycle_event)
    if cycle_id is None:
        return {}
    created = {run.dag_id: run for run in (getattr(cycle_event, "created_dagruns", None) or [])}
    failures = {}
    for asset in raws:
        source = source_of(asset)
        why = ingestion_failure(_asset_state(context, asset), created.get(ingest_dag(source)), source, cycle_id)
        if why:
            failures[asset.name] = why
    return failures


def decide(
    cycle_ids: Mapping[str, str | None],
    policy: str,
    newest: str | None = None,
    failed: Mapping[str, str] | None = None,
) -> tuple[bool, str, str]:
    """(ready, cycle_id, message) for a domain fed by `cycle_ids` (asset name -> cycle id of its
    newest event), `newest` the newest cycle opened (default: the newest of cycle_ids) and `failed`
    (asset name -> reason) the sources whose ingestion of that cycle failed.

    All on the newest cycle: ready. Otherwise `fail` raises MixedCyclesError; `warn` is ready,
    with a warning naming the sources behind; `wait` is not ready until every source has landed the
    newest cycle, except that a source which failed to land it raises SourceNotLandedError at once.
    """
    failed = failed or {}
    landed = [cid for cid in cycle_ids.values() if cid]
    target = newest or (max(landed) if landed else None)
    if target is None:
        names = ", ".join(sorted(cycle_ids))
        raise MixedCyclesError(
            f"no event with a cycle_id yet for: {names}; open a cycle and ingest those sources first"
        )
    behind = sorted(name for name, cid in cycle_ids.items() if cid != target)
    if not behind:
        return True, target, f"all sources are on cycle {target}"
    detail = ", ".join(f"{name}={cid}" for name, cid in sorted(cycle_ids.items()))
    lost = [name for name in behind if name in failed]
    never = [name for name in behind if cycle_ids[name] is None]
    if lost and policy != "warn":
        reasons = "; ".join(f"{source_of(n)} did not land {target}: {failed[n]}" for n in lost)
        raise SourceNotLandedError(f"{reasons} (newest events: {detail})")
    if policy == "fail":
        raise MixedCyclesError(f"raw events of different cycles ({detail}); refusing to mix them (gating: fail)")
    if policy == "warn":
        if never:
            raise MixedCyclesError(f"no event with a cycle_id yet for: {', '.join(never)}; ingest those sources first")
        why = "".join(f"; {source_of(n)} did not land {target}: {failed[n]}" for n in lost)
        return True, target, f"running on mixed cycles ({detail}) as gating is 'warn'{why}"
    names = ", ".join(source_of(n) for n in behind)
    return False, target, f"waiting for {names} to land cycle {target} ({detail})"
