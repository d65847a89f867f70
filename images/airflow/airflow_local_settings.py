"""Airflow's cluster policy for the kit ($AIRFLOW_HOME/config/airflow_local_settings.py).

Who may change what, per DAG, with the FAB auth manager's roles (webserver_config.py):
Admin and Op may trigger, clear and edit every DAG; User every DAG but the ones below; Viewer
none. FAB only adds rights, so the User role holds no edit right on all DAGs at once
(webserver_config.py takes it away) and each DAG grants it here, through its access_control,
which the dag-processor writes to the roles when it parses the DAG.
"""

from __future__ import annotations

# Operators only: `meltano_state` moves Meltano's bookmarks (set, clear, restore).
OPERATOR_ONLY_DAGS = frozenset({"meltano_state"})
USER_DAG_RIGHTS = {"DAGs": {"can_read", "can_edit", "can_delete"}}


def dag_policy(dag) -> None:
    if dag.dag_id in OPERATOR_ONLY_DAGS:
        return
    access = dict(dag.access_control or {})
    access["User"] = {**USER_DAG_RIGHTS, **(access.get("User") or {})}
    dag.access_control = access
