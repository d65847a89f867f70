"""The ingestion DAG factory: one DAG per Meltano source, started by the cycle asset.

ingest_<source>:  extract_load (the ingestion job: `el <source>`, meltano/bin/el.py: extract-load,
                  then reconcile source and raw), one task that emits raw_<source> with
                  {cycle_id, rows, reconciled, schema_changes} when the job succeeds

One task, not three: every task costs seconds of start-up on the critical path of a cycle, so the
cycle id is checked before the job starts and the event's extra is filled after it ends, in the
same task (pre_execute / post_execute hooks). The task also keeps the raw asset's `ingestion`
state (running, landed, failed with the reason), which the domains' gates read: a source that
failed to land a cycle is reported at once, never waited on.

The extra comes from the job's last line `BATON_RESULT: {json}`:
  rows        rows this cycle loaded: those of the try that succeeded (with the docker runner,
              plus those an earlier try interrupted mid-load reported before it ended); a job
              without a BATON_RESULT line falls back to the extractor's METRIC record counts
  reconciled  per stream: source and raw row and key counts after the load (complete whatever
              the tries before: they describe raw, not one try)
  schema_changes
              the columns the loader found dropped from, widened in or added to a stream's schema
              in this load, each {stream, table, column, change, from, to}; [] when none (a job
              without a BATON_RESULT line reports none)
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG
from baton_contract.naming import ingest_dag

from baton.assets import CYCLE_ID, cycle_asset, raw_asset
from baton.config import Config, JobPolicy
from baton.cycle import START, cycle_of_this_run
from baton.gating import INGESTION_STATE
from baton.metadata import Source
from baton.runners import job_operator

log = logging.getLogger(__name__)


def retry_args(policy: JobPolicy) -> dict[str, Any]:
    """default_args of a job task: quick retries with exponential backoff (baton.yml)."""
    return {
        "retries": policy.retries,
        "retry_delay": timedelta(seconds=policy.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(seconds=policy.max_retry_delay_seconds),
        "execution_timeout": timedelta(minutes=policy.timeout_minutes),
    }


def raw_extra(cycle_id: str, result: Any) -> dict[str, Any]:
    """The raw_<source> event's extra from what the job task returned (runners.job_result)."""
    result = result if isinstance(result, dict) else {}
    changes = result.get("schema_changes")
    return {
        CYCLE_ID: cycle_id,
        "rows": result.get("rows"),
        "reconciled": result.get("reconciled") or {},
        "schema_changes": list(changes) if isinstance(changes, list) else [],
    }


def _short(error: object, limit: int = 300) -> str:
    lines = [line for line in str(error or "").strip().splitlines() if line.strip()]
    text = lines[0] if lines else "see its task log"
    # The job's own error line (el: ERROR ...) says more than the exit code line.
    for line in reversed(lines):
        if "ERROR" in line or "error:" in line:
            text = line.strip()
            break
    return text[:limit]


def set_ingestion_state(context: Any, raw: Any, state: str, cycle_id: str | None, error: object = None) -> None:
    value = {CYCLE_ID: cycle_id, "run_id": context.get("run_id"), "state": state}
    if error is not None:
        value["error"] = _short(error)
    try:
        context["asset_state_store"][raw].set(INGESTION_STATE, value)
    except Exception as exc:  # the gates still see the failed run; never fail a load over this
        log.warning("could not record the ingestion state of %s: %s", raw.name, exc)


def build_ingestion_dag(source: Source, config: Config) -> DAG:
    cycle, raw = cycle_asset(), raw_asset(source.name)
    with DAG(
        dag_id=ingest_dag(source.name),
        description=f"Extract-load the {source.name} source into raw_{source.name}.duckdb",
        doc_md=f"""Loads source **{source.name}** with the ingestion job (`el {source.name}`: `meltano run
{source.extractor} {source.loader}`, then source-vs-raw reconciliation), incrementally from its state, then
emits the asset `raw_{source.name}` with the cycle id, the rows loaded and the reconciled counts. Runs when
the `cycle` asset is emitted; a retry is safe (state-based, upserts by key). Exit code 2 (configuration) or 3
(data) fails it at once; other failures are retried within seconds.""",
        schedule=[cycle],
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["baton", "ingestion", f"source:{source.name}"],
        default_args={"owner": config.owner, **retry_args(config.ingestion)},
    ) as dag:

        def check_cycle(context) -> None:  # fail before loading when no cycle is open
            set_ingestion_state(context, raw, "running", cycle_of_this_run(context))

        def publish(context, result) -> None:
            extra = raw_extra(cycle_of_this_run(context), result)
            context["outlet_events"][raw].extra = extra
            set_ingestion_state(context, raw, "landed", extra[CYCLE_ID])

        def record_failure(context) -> None:  # the last try failed: the gates stop waiting for it
            try:
                cycle_id = cycle_of_this_run(context)
            except Exception:
                cycle_id = None
            set_ingestion_state(context, raw, "failed", cycle_id, context.get("exception"))

        job_operator(
            "extract_load",
            ["el", source.name],
            config,
            secrets=source.secrets,
            inlets=[cycle],
            outlets=[raw],
            pre_execute=check_cycle,
            post_execute=publish,
            on_failure_callback=record_failure,
        )
    return dag
