#!/usr/bin/env bash
# ensure.sh: make the base images the stack needs available, and print them as make arguments
# (BATON_PYTHON_IMAGE=... BATON_POSTGRES_IMAGE=...). An image already on the engine is used as is;
# otherwise it is pulled; where no registry answers (air-gapped networks, CI here), the offline
# drop-ins are built from Debian packages (build.sh) and those are printed instead.
# Progress goes to stderr; stdout carries only the assignments.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
official() { sed -n "s/^$1=//p" settings.env; }
python_image=${BATON_PYTHON_IMAGE:-$(official BATON_PYTHON_IMAGE)}
postgres_image=${BATON_POSTGRES_IMAGE:-$(official BATON_POSTGRES_IMAGE)}
pull_timeout=${BATON_PULL_TIMEOUT:-120}

available() {
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  echo "pulling $1" >&2
  timeout "$pull_timeout" docker pull -q "$1" >/dev/null 2>&1
}

missing=()
for image in "$python_image" "$postgres_image"; do
  available "$image" || missing+=("$image")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "BATON_PYTHON_IMAGE=$python_image BATON_POSTGRES_IMAGE=$postgres_image"
  exit 0
fi
{
  echo "no registry answered for ${missing[*]}:"
  echo "building the offline base images from Debian packages instead (images/base/build.sh, ~2 min once)"
} >&2
bash images/base/build.sh >&2
grep -E '^BATON_(PYTHON|POSTGRES)_IMAGE=' .baton/images.env | tr '\n' ' '
echo
