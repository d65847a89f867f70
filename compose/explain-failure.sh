#!/usr/bin/env bash
# explain-failure.sh PROJECT ENV_FILE: after `compose up` failed, say in one line what to do when
# the cause is known. Today: the databases' volumes were created with other credentials than the
# env file holds (another env file, a regenerated one, or another checkout with the same project).
set -uo pipefail
project=$1 env_file=$2
logs=$(docker ps -aq --filter "label=com.docker.compose.project=$project" | xargs -r -n1 docker logs --tail 50 2>&1)
if grep -q 'password authentication failed' <<<"$logs"; then
  echo "error: the databases of compose project '$project' were created with other credentials than $env_file:" \
    "restore the env file that created them, or start over with \`make reset CONFIRM=yes\` (deletes that stack's data)" >&2
fi
exit 1
