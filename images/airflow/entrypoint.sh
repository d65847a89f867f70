#!/usr/bin/env bash
# baton-airflow: the Airflow image's entrypoint. Names the UI user (the simple auth manager's,
# BATON_AIRFLOW_USER: settings.env, set in the image at build), writes its password when given
# (BATON_AIRFLOW_PASSWORD comes from compose/.env; the simple auth manager reads it from a file)
# and runs the command.
set -euo pipefail
: "${BATON_AIRFLOW_USER:?is not set: the image sets it from settings.env at build (make airflow-image)}"
# The user gets Airflow's admin role, unless the environment configures the users itself.
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-$BATON_AIRFLOW_USER:admin}
if [ -n "${BATON_AIRFLOW_PASSWORD:-}" ]; then
  file=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated}
  umask 077
  printf '{"%s": "%s"}\n' "$BATON_AIRFLOW_USER" "$BATON_AIRFLOW_PASSWORD" >"$file"
fi
exec "$@"
