#!/usr/bin/env bash
# Entrypoint with the official postgres image's contract:
#   POSTGRES_USER (default postgres), POSTGRES_PASSWORD (required unless
#   POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_DB (default: the user's name), each also as *_FILE;
#   POSTGRES_INITDB_ARGS; /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz run on the first start
#   only, against a server that listens on the unix socket only; data in $PGDATA; the server runs
#   as the postgres user.
set -Eeuo pipefail

say() { echo "baton-postgres: $*"; }
die() { echo "baton-postgres: error: $*" >&2; exit 1; }

# file_env VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE (Docker secrets).
file_env() {
  local var=$1 fvar="${1}_FILE" def=${2:-}
  if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
    die "both $var and $fvar are set; set only one of them"
  fi
  local val=$def
  if [ -n "${!var:-}" ]; then
    val=${!var}
  elif [ -n "${!fvar:-}" ]; then
    [ -r "${!fvar}" ] || die "$fvar names ${!fvar}, which cannot be read"
    val=$(<"${!fvar}")
  fi
  export "$var"="$val"
  unset "$fvar"
}

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  # A bind mount or a fresh volume may belong to root: hand it to postgres, then drop root.
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 3777 /var/run/postgresql
  exec gosu postgres "${BASH_SOURCE[0]}" "$@"
fi

incomplete="$PGDATA/.baton-init-incomplete"
if [ -e "$incomplete" ]; then
  die "the first-start initialisation of $PGDATA failed earlier ($(<"$incomplete")); \
its data is kept as it was. Fix the script, then remove this data volume to initialise again."
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_USER postgres
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    die "the database is uninitialised and POSTGRES_PASSWORD is not set. Set POSTGRES_PASSWORD \
(or POSTGRES_PASSWORD_FILE), or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without one."
  fi

  if [ -n "$(ls -A "$PGDATA" 2>/dev/null)" ]; then
    die "$PGDATA is not empty but holds no database (no PG_VERSION); refusing to touch it. \
Point PGDATA at an empty directory or a subdirectory of the mount."
  fi

  say "initialising a new database in $PGDATA for user '$POSTGRES_USER'"
  # The password reaches initdb through a pipe, never a file or the command line.
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of flags, as in the official image
  initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host="$auth" $POSTGRES_INITDB_ARGS
  {
    echo
    echo "listen_addresses = '*'"
  } >>"$PGDATA/postgresql.conf"
  echo "host all all all $auth" >>"$PGDATA/pg_hba.conf"

  echo "starting" >"$incomplete"
  trap 'echo "failed while running ${current:-the init server}" >"$incomplete"' ERR
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start

  export PGUSER=$POSTGRES_USER PGPASSWORD=$POSTGRES_PASSWORD
  psql=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER")
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  export PGDATABASE=$POSTGRES_DB
  for current in /docker-entrypoint-initdb.d/*; do
    [ -e "$current" ] || continue
    case "$current" in
      *.sh)
        if [ -x "$current" ]; then
          say "running $current"; "$current"
        else
          say "sourcing $current"; . "$current"
        fi ;;
      *.sql) say "running $current"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$current" ;;
      *.sql.gz) say "running $current"; gunzip -c "$current" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      *) say "ignoring $current (not .sh, .sql or .sql.gz)" ;;
    esac
  done
  current=

  pg_ctl -D "$PGDATA" -m fast -w stop
  trap - ERR
  rm -f "$incomplete"
  unset PGPASSWORD
  say "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
