#!/usr/bin/env bash
# wait-healthy.sh TIMEOUT CONTAINER...: wait until every container's healthcheck says healthy.
# (`docker compose up --wait` does this in compose v2; compose v1 has no such flag.)
set -euo pipefail
timeout=$1; shift
deadline=$(( $(date +%s) + timeout ))
for id in "$@"; do
  name=$(docker inspect -f '{{.Name}}' "$id"); name=${name#/}
  while :; do
    status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
    case $status in
      healthy|running) break ;;
      unhealthy|exited|dead)
        echo "error: $name is $status; its last log lines:" >&2
        docker logs --tail 20 "$id" >&2
        exit 1 ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "error: $name still '$status' after ${timeout}s; see: docker logs $name" >&2
      exit 1
    fi
    sleep 1
  done
  echo "$name is healthy"
done
