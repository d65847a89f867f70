#!/usr/bin/env bash
# ensure.sh: make the base images the stack needs available, and print them as make arguments
# (BATON_PYTHON_IMAGE=... BATON_POSTGRES_IMAGE=...). For each base, the first that works:
#   1. the image named (environment, else settings.env), already on the engine;
#   2. its offline drop-in (<prefix>/<official name>, built by `make base-images` in any checkout
#      on this machine), already on the engine: found by name and build label, never pulled;
#   3. the named image, pulled;
#   4. where no registry answers (air-gapped networks, CI here), the offline drop-ins, built from
#      Debian packages (build.sh).
# Progress goes to stderr; stdout carries only the assignments.
#
#   ensure.sh --find   print only the drop-ins already on the engine (no pull, no build): the
#                      Makefile's default for a base neither the environment nor .baton/images.env names
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
official() { sed -n "s/^$1=//p" settings.env; }
prefix=${BATON_BASE_PREFIX:-baton-local}
label=org.baton.inputs-hash
pull_timeout=${BATON_PULL_TIMEOUT:-120}

on_engine() { docker image inspect "$1" >/dev/null 2>&1; }
dropin() {  # dropin KEY: the drop-in of the official image KEY names, if the engine has one
  local name
  name="$prefix/$(official "$1")"
  [ -n "$(docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$name" 2>/dev/null)" ] && echo "$name"
}

if [ "${1:-}" = --find ]; then
  found=()
  for key in BATON_PYTHON_IMAGE BATON_POSTGRES_IMAGE; do
    name=$(dropin "$key") && found+=("$key=$name")
  done
  echo "${found[*]}"
  exit 0
fi

resolve() {  # resolve KEY: print the usable image for KEY, or fail
  local image=${!1:-$(official "$1")} name
  if on_engine "$image"; then echo "$image"; return 0; fi
  if [ "$image" = "$(official "$1")" ] && name=$(dropin "$1"); then
    echo "using the offline drop-in $name for $image" >&2
    echo "$name"
    return 0
  fi
  echo "pulling $image" >&2
  timeout "$pull_timeout" docker pull -q "$image" >/dev/null 2>&1 && echo "$image"
}

missing=()
python_image=$(resolve BATON_PYTHON_IMAGE) || missing+=("${BATON_PYTHON_IMAGE:-$(official BATON_PYTHON_IMAGE)}")
postgres_image=$(resolve BATON_POSTGRES_IMAGE) || missing+=("${BATON_POSTGRES_IMAGE:-$(official BATON_POSTGRES_IMAGE)}")

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
