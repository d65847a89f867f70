#!/usr/bin/env bash
# baton-airflow: the Airflow image's entrypoint. Writes the UI user's password (the simple auth
# manager reads it from a file; BATON_AIRFLOW_PASSWORD comes from compose/.env) and runs the command.
set -euo pipefail
if [ -n "${BATON_AIRFLOW_PASSWORD:-}" ]; then
  file=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated}
  user=${BATON_AIRFLOW_USER:-admin}
  umask 077
  printf '{"%s": "%s"}\n' "$user" "$BATON_AIRFLOW_PASSWORD" >"$file"
fi
exec "$@"
