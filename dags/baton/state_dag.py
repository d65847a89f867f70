"""The Meltano state DAG: list, get, set, clear or restore a source's state from the Airflow UI.

Trigger it with parameters (the form lists them). `set`, `clear` and `restore` first keep the
current state as a timestamped backup (`<state_id>:backup:<UTC time>`); `list` shows each state
with its backups, newest first; `restore` puts back the one chosen in `backup` (default: the
newest). The new state is validated before anything is touched; unknown state ids fail naming the
known ones. `set`, `clear` and `restore` refuse while the source's ingestion (ingest_<source>) is
running or queued: a load would overwrite the state when it ends. Runs through the same runner as
ingestion (the `state` command of the jobs image, meltano/bin/state.py).

Backfill one source from a date: `get` its state id (e.g. `prod:tap-shop-to-target-raw-shop`),
`set` it with the bookmark moved back, let the next cycle (or a manual ingest run) load from there,
`restore` if you change your mind before it runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from airflow.sdk import DAG, Param, task
from baton_contract.naming import ingest_dag
from baton_contract.state import singer_state

from baton.config import Config
from baton.cycle import START
from baton.metadata import Source, load_sources
from baton.runners import job_operator

ACTIONS = ["list", "get", "set", "clear", "restore"]
WRITES = ("set", "clear", "restore")


def source_of_state(state_id: str, sources: Iterable[Source]) -> str | None:
    """The source whose Meltano state id this is (`<environment>:<extractor>-to-<loader>`, the
    plugin names from the baked source list); None for any other id."""
    _, _, job = state_id.strip().partition(":")
    return next((s.name for s in sources if job == f"{s.extractor}-to-{s.loader}"), None)


def refuse_while_ingesting(action: str, state_id: str | None, active_runs, sources: Iterable[Source]) -> None:
    """`active_runs(dag_id)` -> running or queued runs of that DAG; set/clear/restore wait for none."""
    if action not in WRITES or not state_id:
        return
    source = source_of_state(state_id, sources)
    if source is None:
        return
    count = active_runs(ingest_dag(source))
    if count:
        raise ValueError(
            f"{ingest_dag(source)} has {count} run(s) running or queued: {action} would race the load's own state "
            f"update. Try again when it has finished (or pause ingest_{source} first)."
        )


def validate_request(action: str, state_id: str | None, state_json: object) -> None:
    """Refuse a request that cannot work, before any job runs."""
    if action not in ACTIONS:
        raise ValueError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    if action != "list" and not (state_id or "").strip():
        raise ValueError(f"action '{action}' needs state_id (run action 'list' to see them)")
    if action == "set":
        try:
            singer_state(state_json, "state_json")
        except ValueError as exc:
            raise ValueError(f"{exc} for action 'set'") from None


def build_state_dag(config: Config) -> DAG:
    with DAG(
        dag_id="meltano_state",
        description="List, get, set, clear or restore Meltano state (backfills)",
        doc_md=__doc__,
        schedule=None,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["baton", "meltano-state"],
        default_args={"owner": config.owner, "retries": 0, "execution_timeout": timedelta(minutes=15)},
        params={
            "action": Param("list", enum=ACTIONS, description="What to do"),
            "state_id": Param(None, type=["null", "string"], description="e.g. prod:tap-shop-to-target-raw-shop"),
            "state_json": Param(None, type=["null", "object"], description='For set: {"singer_state": {...}}'),
            "backup": Param(
                None,
                type=["null", "string"],
                description="For restore: a backup id or its timestamp from `list` (empty: the newest)",
            ),
        },
    ) as dag:

        @task
        def validate(**context) -> None:
            p = context["params"]
            validate_request(p["action"], p.get("state_id"), p.get("state_json"))

            def active_runs(dag_id: str) -> int:
                return context["ti"].get_dr_count(dag_id=dag_id, states=["running", "queued"])

            refuse_while_ingesting(p["action"], p.get("state_id"), active_runs, load_sources(config.metadata_dir))

        # Retries: none. A blind retry of set/clear would back up its own result.
        apply = job_operator(
            "apply",
            [
                "state",
                "{{ params.action }}",
                "{{ params.state_id or '' }}",
                # set: the new state; restore: the backup chosen; other fields left in the form are ignored
                "{{ (params.state_json | tojson) if params.action == 'set' and params.state_json"
                " else (params.backup or '') if params.action == 'restore' else '' }}",
            ],
            config,
        )
        validate() >> apply
    return dag
