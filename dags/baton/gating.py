"""Cycle ids: where a run takes its cycle from, and the per-cycle gate of domain runs.

Airflow starts an asset-scheduled DAG once each of its assets has an event since its last run; it
does not care which day those events are about. A domain must not build on raw data of two
different cycles without saying so: the gate compares the cycle_id extras of the raw events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from airflow.sdk import Asset

from baton.assets import CYCLE_ID

log = logging.getLogger(__name__)


class MixedCyclesError(RuntimeError):
    """A domain run was fed by raw events of different cycles."""


def _latest(events: Any) -> Any:
    events = list(events or [])
    return events[-1] if events else None


def latest_cycle_ids(context: Mapping[str, Any], assets: Iterable[Asset]) -> dict[str, str | None]:
    """asset name -> cycle_id of its newest event: the triggering events of this run where it has
    them (scheduled runs), else the newest event of the asset at all (manual runs, backfills)."""
    triggering = context.get("triggering_asset_events") or {}
    inlet_events = context.get("inlet_events")
    found: dict[str, str | None] = {}
    for asset in assets:
        event = _latest(triggering.get(asset)) if triggering else None
        if event is None and inlet_events is not None:
            event = _latest(inlet_events[asset])
        found[asset.name] = (event.extra or {}).get(CYCLE_ID) if event is not None else None
    return found


def decide(cycle_ids: Mapping[str, str | None], policy: str) -> tuple[bool, str, str]:
    """(ready, cycle_id, message) for a domain fed by `cycle_ids` (asset name -> cycle id).

    One cycle: ready. Mixed: `fail` raises MixedCyclesError; `warn` is ready with the newest cycle
    and a warning; `wait` is not ready until every asset has an event of the newest cycle.
    """
    never = sorted(name for name, cid in cycle_ids.items() if cid is None)
    if never:
        raise MixedCyclesError(f"no event with a cycle_id yet for: {', '.join(never)}; ingest those sources first")
    newest = max(cid for cid in cycle_ids.values() if cid)
    if len(set(cycle_ids.values())) == 1:
        return True, newest, f"all sources are on cycle {newest}"
    detail = ", ".join(f"{name}={cid}" for name, cid in sorted(cycle_ids.items()))
    if policy == "fail":
        raise MixedCyclesError(f"raw events of different cycles ({detail}); refusing to mix them (gating: fail)")
    if policy == "warn":
        return True, newest, f"running on mixed cycles ({detail}) as gating is 'warn'"
    behind = ", ".join(name for name, cid in sorted(cycle_ids.items()) if cid != newest)
    return False, newest, f"waiting for {behind} to land cycle {newest} ({detail})"
