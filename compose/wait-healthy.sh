#!/usr/bin/env bash
# wait-healthy.sh TIMEOUT CONTAINER...: wait until every container's healthcheck says healthy.
# (`docker compose up --wait` does this in compose v2; compose v1 has no such flag.)
# While a container is still "starting", its own healthcheck command is run here every half second:
# Docker probes only every `interval` (15 s for the Airflow services, to stay quiet at rest), and
# this engine has no faster start-up interval.
set -euo pipefail
timeout=$1; shift
deadline=$(( $(date +%s) + timeout ))

probe() {  # probe CONTAINER: run the container's healthcheck command now; its exit code
  local id=$1 test=()
  mapfile -t test < <(docker inspect -f '{{range .Config.Healthcheck.Test}}{{println .}}{{end}}' "$id")
  case ${test[0]:-} in
    CMD) timeout 10 docker exec "$id" "${test[@]:1}" >/dev/null 2>&1 ;;
    CMD-SHELL) timeout 10 docker exec "$id" sh -c "${test[1]}" >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

# Every container still waited on is looked at each round, so the others are done by the time the
# slowest (the api-server) answers; a round every half second.
pending=("$@")
while [ ${#pending[@]} -gt 0 ]; do
  left=()
  for id in "${pending[@]}"; do
    name=$(docker inspect -f '{{.Name}}' "$id"); name=${name#/}
    status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
    case $status in
      healthy|running) echo "$name is healthy"; continue ;;
      starting) if probe "$id"; then echo "$name is healthy"; continue; fi ;;
      unhealthy|exited|dead)
        echo "error: $name is $status; its last log lines:" >&2
        docker logs --tail 20 "$id" >&2
        exit 1 ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "error: $name still '$status' after ${timeout}s; see: docker logs $name" >&2
      exit 1
    fi
    left+=("$id")
  done
  pending=("${left[@]}")
  [ ${#pending[@]} -eq 0 ] || sleep 0.5
done
