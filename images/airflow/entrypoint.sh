#!/usr/bin/env bash
# baton-airflow: the Airflow image's entrypoint. Checks the image names its first admin
# (BATON_AIRFLOW_USER: settings.env, set at build) and runs the command. Users, roles and sign-in
# are the FAB auth manager's (webserver_config.py); baton-airflow-init creates the admin with the
# password of BATON_AIRFLOW_PASSWORD, which no other container needs.
set -euo pipefail
: "${BATON_AIRFLOW_USER:?is not set: the image sets it from settings.env at build (make airflow-image)}"
exec "$@"
