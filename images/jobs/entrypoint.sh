#!/usr/bin/env bash
# baton-job: runs `meltano ...` (and `state ...`, meltano/bin/state.py) in the Meltano project or
# `dbt ...` in the dbt project, each with its own virtualenv. Exit codes pass through; output goes to stdout/stderr unchanged.
set -euo pipefail
home=${BATON_HOME:-/opt/baton}

# DuckDB follows the container's limits, so that a load or a build larger than memory spills to disk
# instead of being killed: BATON_DUCKDB_MEMORY_LIMIT 75% of the cgroup's memory limit (the rest is
# Python, Meltano and the extractor), BATON_DUCKDB_THREADS the CPUs this container may use,
# BATON_DUCKDB_TEMP_DIR a folder on the data volume (else /tmp). Set ones are kept.
duckdb_settings() {
  local limit="" cpus
  if [[ -r /sys/fs/cgroup/memory.max ]]; then
    limit=$(</sys/fs/cgroup/memory.max)
  elif [[ -r /sys/fs/cgroup/memory/memory.limit_in_bytes ]]; then
    limit=$(</sys/fs/cgroup/memory/memory.limit_in_bytes)
  fi
  # "max" (v2) or a huge number (v1): no limit; DuckDB keeps its default (80% of the machine).
  if [[ "$limit" =~ ^[0-9]+$ ]] && (( limit < 1 << 60 )); then
    export BATON_DUCKDB_MEMORY_LIMIT=${BATON_DUCKDB_MEMORY_LIMIT:-$(( limit * 3 / 4 / 1048576 ))MB}
  fi
  cpus=$(nproc 2>/dev/null || echo 1)
  if [[ -r /sys/fs/cgroup/cpu.max ]]; then
    local quota period
    read -r quota period < /sys/fs/cgroup/cpu.max
    if [[ "$quota" =~ ^[0-9]+$ ]] && (( period > 0 )); then
      cpus=$(( (quota + period - 1) / period ))
    fi
  fi
  export BATON_DUCKDB_THREADS=${BATON_DUCKDB_THREADS:-$cpus}
  local data=${BATON_JOB_DATA_DIR:-/data}
  if [[ -z "${BATON_DUCKDB_TEMP_DIR:-}" ]]; then
    if [[ -d "$data" && -w "$data" ]]; then
      BATON_DUCKDB_TEMP_DIR="$data/tmp/duckdb"
    else
      BATON_DUCKDB_TEMP_DIR="/tmp/duckdb"
    fi
  fi
  mkdir -p "$BATON_DUCKDB_TEMP_DIR" 2>/dev/null || BATON_DUCKDB_TEMP_DIR=/tmp/duckdb
  mkdir -p "$BATON_DUCKDB_TEMP_DIR"
  export BATON_DUCKDB_TEMP_DIR
}
duckdb_settings

# Jobs starting together on a fresh system database must not both migrate it (meltano/bin/system_db.py).
ensure_system_db() {
  BATON_MELTANO_BIN="$home/venvs/meltano/bin/meltano" "$home/venvs/meltano/bin/python" bin/system_db.py
}

case "${1:-}" in
  meltano)
    shift
    cd "$home/meltano"
    ensure_system_db
    exec "$home/venvs/meltano/bin/meltano" "$@" ;;
  el)  # the ingestion job: extract-load, reconcile source and raw, print BATON_RESULT (meltano/bin/el.py,
       # which makes sure of the system database's schema itself, in its own process)
    shift
    cd "$home/meltano"
    BATON_MELTANO_BIN="$home/venvs/meltano/bin/meltano" exec "$home/venvs/meltano/bin/python" bin/el.py "$@" ;;
  state)
    shift
    cd "$home/meltano"
    ensure_system_db
    BATON_MELTANO_BIN="$home/venvs/meltano/bin/meltano" exec "$home/venvs/meltano/bin/python" bin/state.py "$@" ;;
  dbt)  # dbt, then its outcome: failed tests and their rows, bad data (3) / bad configuration (2) / retry (1),
        # and a BATON_RESULT line (dbt/bin/dbt_job.py)
    shift
    cd "$home/dbt"
    # Each warehouse mode's own target folder, where the image's build parsed the project for it.
    export DBT_TARGET_PATH=${DBT_TARGET_PATH:-target/${BATON_WAREHOUSE:-files}}
    BATON_DBT_BIN="$home/venvs/dbt/bin/dbt" exec "$home/venvs/dbt/bin/python" bin/dbt_job.py "$@" ;;
  query)  # read-only SQL on the warehouse (default: row counts), with the loader's environment: it holds
          # target_baton_duckdb (the one way to connect to the warehouse) and duckdb
    shift
    exec "$home/meltano/.meltano/loaders/target-baton-duckdb/venv/bin/python" "$home/tools/query.py" "$@" ;;
  warehouse)  # warehouse drop raw_<source>...: delete databases of the warehouse (files or lake)
    shift
    exec "$home/meltano/.meltano/loaders/target-baton-duckdb/venv/bin/python" -m target_baton_duckdb.warehouse "$@" ;;
  samples)  # the sample data generator: samples seed|marketing|next-day ...
    shift
    cd "$home"
    exec "$home/venvs/meltano/bin/python" -m samples.generate "$@" ;;
  docs)  # dbt docs for the warehouse, served on port BATON_DOCS_PORT (make docs sets it)
    : "${BATON_DOCS_PORT:?set BATON_DOCS_PORT, the port to serve the dbt docs on}"
    cd "$home/dbt"
    "$home/venvs/dbt/bin/dbt" docs generate --target-path /tmp/dbt-docs --quiet
    exec "$home/venvs/dbt/bin/dbt" docs serve --target-path /tmp/dbt-docs --host 0.0.0.0 \
      --port "$BATON_DOCS_PORT" --no-browser ;;
  ""|-h|--help|help)
    cat <<USAGE
usage: baton-job el <source>         extract-load one source, then reconcile source and raw counts
       baton-job meltano <args...>   e.g. meltano run tap-shop target-raw-shop
       baton-job dbt <args...>       e.g. dbt build --select tag:finance (exit 3: tests failed, 2: project error)
       baton-job state <action> [id] [json]   list/get/set/clear/restore Meltano state, with backups
       baton-job query [SQL]         read-only SQL on the warehouse (default: row counts)
       baton-job samples <seed|marketing|next-day> [options]   sample source data
       baton-job warehouse drop <database...>   delete raw_<source> (files or lake) and all in it
       baton-job docs                dbt docs, served on BATON_DOCS_PORT
       baton-job <command...>        any other command, as is
settings (environment): MELTANO_DATABASE_URI, MELTANO_ENVIRONMENT (default prod),
  BATON_SHOP_DB_URL, BATON_WAREHOUSE_DIR (default /data/warehouse),
  BATON_MARKETING_DIR (default /data/marketing)
derived from the container's limits unless set: BATON_DUCKDB_MEMORY_LIMIT (75% of the memory
  limit, e.g. 1536MB), BATON_DUCKDB_THREADS (its CPUs), BATON_DUCKDB_TEMP_DIR (spill folder)
el exit codes: 0 ok, 1 load failed (retry later), 2 bad configuration, 3 bad data,
  75 stopped by SIGTERM at a batch boundary (retry at once)
USAGE
    ;;
  *)
    exec "$@" ;;
esac
