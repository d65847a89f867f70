"""batonctl: the sandbox's command line, talking to Airflow's REST API (/api/v2).

    batonctl up       wait for the DAGs, delete those no longer defined, unpause the others, run
                      the first cycle (once), print the URL
    batonctl run      trigger a cycle, follow every DAG it sets off, print a summary table
    batonctl prune    delete the DAGs the DAG folder no longer defines (a removed source or domain)
    batonctl status   each DAG's latest run

`make up`, `make run` and `make status` call it (`python -m batonctl`) in a container of the Airflow
image on the stack's network. It signs in as the automation account (role Op: it triggers and
follows runs, nothing more), never as the admin. Settings (compose's cli service sets them):
BATON_AIRFLOW_URL, BATON_AUTOMATION_USER, BATON_AUTOMATION_PASSWORD (required),
BATON_AIRFLOW_PUBLIC_URL (the URL printed for the browser), BATON_AIRFLOW_USER (the admin named
there).

api     the REST client (Airflow) and StackError, the errors a data engineer acts on
dags    waiting for the DAGs, and the DAGs the DAG folder no longer defines (prune)
cycle   following a cycle to its end, its summary and failure lines
cli     the commands
"""

from .api import Airflow, StackError, raw_sources
from .cli import app, client_from_env, login_hint
from .cycle import NOT_IN_CYCLE, CycleResult, failure_lines, follow_cycle, not_run_reason, summary
from .dags import Pruned, gone_dags, live_dags, prune, wait_for_dags

__all__ = [
    "NOT_IN_CYCLE",
    "Airflow",
    "CycleResult",
    "Pruned",
    "StackError",
    "app",
    "client_from_env",
    "failure_lines",
    "follow_cycle",
    "gone_dags",
    "live_dags",
    "login_hint",
    "not_run_reason",
    "prune",
    "raw_sources",
    "summary",
    "wait_for_dags",
]
