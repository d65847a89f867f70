#!/usr/bin/env bash
# env-file.sh FILE: create or complete the local stack's settings file (compose reads it with
# --env-file). Secrets are generated once, on this machine, and never committed; a key already
# in the file is kept, so re-running never rotates a password under a running stack.
# Needs only a shell: `make up` works on a machine with nothing but Docker and make.
#
# env-file.sh FILE --user NAME: the password of the sandbox user NAME (`make user`), generated into
# FILE once as BATON_USER_PASSWORD_<NAME>; prints that key's name, never the password.
#
# env-file.sh FILE --sources SOURCES_JSON OUT: write to OUT the lines of FILE that hold the secrets
# the sources declare (`secrets:` in dags/baked/sources.json), and nothing else. The services that
# run task code or jobs (scheduler, jobs) read OUT, never FILE: they never see an account's password.
set -euo pipefail
file=$1

token() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c "${1:-32}" || true; }
# Airflow's Fernet key: 32 random bytes, url-safe base64.
fernet() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n'; }
docker_gid() { stat -c %g /var/run/docker.sock 2>/dev/null || echo 0; }

umask 077
mkdir -p "$(dirname "$file")"
touch "$file"
added=()
ensure() {  # ensure KEY VALUE
  if ! grep -q "^$1=" "$file"; then
    printf '%s=%s\n' "$1" "$2" >>"$file"
    added+=("$1")
  fi
}
if [ "${2:-}" = --user ]; then
  name=${3:?usage: env-file.sh FILE --user NAME}
  key=BATON_USER_PASSWORD_$(printf '%s' "$name" | tr 'a-z' 'A-Z' | tr -c 'A-Z0-9\n' '_')
  ensure "$key" "$(token 24)"
  echo "$key"
  exit 0
fi
if [ "${2:-}" = --sources ]; then
  sources=${3:?usage: env-file.sh FILE --sources SOURCES_JSON OUT}
  out=${4:?usage: env-file.sh FILE --sources SOURCES_JSON OUT}
  # Each source's "secrets": [...] list (one name per line, or [] on one line). No list yet (a fresh
  # clone before its first image build): nothing declared; building the jobs image writes it again.
  declared=""
  if [ -f "$sources" ]; then
    declared=$(awk '/"secrets": \[/ {on = 1} on {print} on && /\]/ {on = 0}' "$sources" |
      grep -o '"[A-Z_][A-Z0-9_]*"' | tr -d '"' | sort -u || true)
  fi
  : >"$out.tmp"
  for key in $declared; do
    grep "^$key=" "$file" >>"$out.tmp" || true  # a missing one: the job names it when it runs
  done
  mv "$out.tmp" "$out"
  exit 0
fi
data_dir=${BATON_DATA_DIR:?BATON_DATA_DIR must be an absolute host path}
ensure BATON_POSTGRES_PASSWORD "$(token)"
ensure BATON_SHOP_PASSWORD "$(token)"
# The first admin's password (BATON_AIRFLOW_USER): only baton-airflow-init reads it. A new value
# here is the new password after the next `make up`.
ensure BATON_AIRFLOW_PASSWORD "$(token 20)"
# The automation account's (BATON_AUTOMATION_USER, role Op): batonctl (`make up/run/status`).
ensure BATON_AUTOMATION_PASSWORD "$(token 32)"
ensure BATON_JWT_SECRET "$(token 48)"
ensure BATON_API_SECRET_KEY "$(token 48)"
# Sign-in through an OpenID Connect provider: off while BATON_OIDC_ISSUER is empty. To turn it on,
# set BATON_OIDC_ISSUER, BATON_OIDC_CLIENT_ID, BATON_OIDC_CLIENT_SECRET and BATON_OIDC_ROLES here
# (images/airflow/webserver_config.py says what each holds), then `make up`.
ensure BATON_OIDC_ISSUER ""
ensure BATON_OIDC_CLIENT_SECRET ""
ensure BATON_FERNET_KEY "$(fernet)"
ensure BATON_DATA_DIR "$data_dir"
# The compose project (volumes, network, job container labels): this checkout's own, kept here so
# renaming the folder later does not orphan the stack's data.
ensure BATON_PROJECT "${BATON_PROJECT:?BATON_PROJECT must name the compose project}"
# The sample shop source's connection: a secret the source declares (meltano/sources/shop.meltano.yml).
shop_password=$(sed -n 's/^BATON_SHOP_PASSWORD=//p' "$file")
ensure BATON_SHOP_DB_URL "postgresql://shop:${shop_password}@source-db:5432/shop"
ensure BATON_DOCKER_GID "$(docker_gid)"
if [ ${#added[@]} -gt 0 ]; then
  echo "wrote ${added[*]} to $file (local secrets and paths; not committed)"
fi
