#!/usr/bin/env bash
# build.sh: build the kit's own images (jobs, Airflow) under a checkout's tag, leaving no untagged
# image behind. The Makefile calls it (`make jobs-image`, `make airflow-image`, `make reset`).
#
#   build.sh build TAG DOCKERFILE [docker build options...]   build DOCKERFILE (context: the repository) as TAG
#   build.sh remove TAG DOCKERFILE                            remove TAG and its stage tags
#   build.sh clean                                            remove images replaced by earlier builds
#
# With BuildKit (the docker CLI's buildx plugin) a multi-stage build keeps its earlier stages in
# the build cache. The legacy builder (engines and CLIs without buildx) keeps each stage as an
# image instead: unnamed, every build would leave its builder stage behind as an untagged image
# (about 1.3 GB for the jobs image). So each earlier stage is built first on its own and tagged
# <TAG>-<stage> (or <TAG>:<stage> for an untagged name); the full build reuses it from the layer
# cache and makes no new image for it. `remove` deletes those tags with TAG.
#
# A build whose inputs did not change is skipped (unless the options say --no-cache): the image
# carries the label baton.build-key, a digest of the Dockerfile, the build options, the base
# image's ID and every file its COPY lines name (less what .dockerignore leaves out). `make up` on
# built images checks that in about a second instead of running docker build.
#
# An image a build replaces (its tag moved to the new one) is removed at once, unless another tag
# still names it, or a container still runs it: then it is listed in .baton/replaced-images and
# `clean` (make up, make down) removes it once no container uses it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
replaced=.baton/replaced-images

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

buildkit() {  # 0 when docker build should use BuildKit
  case ${DOCKER_BUILDKIT:-} in
    1) return 0 ;;
    0) return 1 ;;
  esac
  docker buildx version >/dev/null 2>&1
}

stage_tag() {  # stage_tag TAG STAGE
  local tag=$1 stage=$2
  if [[ ${tag##*/} == *:* ]]; then echo "$tag-$stage"; else echo "$tag:$stage"; fi
}

# The named stages of a Dockerfile before its last one (the last one is the image itself).
stages() {
  grep -iE '^[[:space:]]*FROM[[:space:]]' "$1" | sed '$d' \
    | sed -nE 's/^[[:space:]]*[Ff][Rr][Oo][Mm][[:space:]]+[^[:space:]]+[[:space:]]+[Aa][Ss][[:space:]]+([A-Za-z0-9_.-]+).*/\1/p'
}

image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

drop() {  # drop ID: remove an image a build replaced, or list it for `clean`
  local id=$1 tags
  [ -n "$id" ] || return 0
  tags=$(docker image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null) || return 0  # gone already
  [ "$tags" = 0 ] || return 0  # another tag (another checkout's, say) still names it
  if ! docker rmi "$id" >/dev/null 2>&1; then
    mkdir -p "$(dirname "$replaced")"
    grep -qx "$id" "$replaced" 2>/dev/null || echo "$id" >>"$replaced"
  fi
}

clean() {
  [ -s "$replaced" ] || return 0
  local id keep=()
  while read -r id; do
    [ -n "$id" ] || continue
    local tags
    tags=$(docker image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null) || continue
    [ "$tags" = 0 ] || continue
    docker rmi "$id" >/dev/null 2>&1 || keep+=("$id")
  done <"$replaced"
  if [ ${#keep[@]} -eq 0 ]; then rm -f "$replaced"; else printf '%s\n' "${keep[@]}" >"$replaced"; fi
}

run_build() {  # run_build TAG OPTIONS...: docker build, its output shown only when it fails
  local tag=$1 log; shift
  log=$(mktemp)
  if ! DOCKER_BUILDKIT=$bk docker build -q "$@" -t "$tag" . >/dev/null 2>"$log"; then
    grep -v -e DEPRECATED -e 'legacy builder' -e buildx -e BuildKit -e '^[[:space:]]*$' "$log" >&2 || true
    rm -f "$log"
    die "docker build of $tag failed (above)"
  fi
  rm -f "$log"
}

# The build's inputs as one digest (see the top): the files of the COPY sources (not --from), found
# without what .dockerignore excludes (its `**/name` and `path` lines), the Dockerfile, the build
# options and the ID of every image a --build-arg names.
build_key() {  # build_key DOCKERFILE OPTIONS...
  local dockerfile=$1 arg sources=() prune=() pattern; shift
  while read -r pattern; do
    case $pattern in
      '' | '#'*) ;;
      '**/'*) prune+=(-name "${pattern#\*\*/}" -prune -o) ;;
      *) prune+=(-path "./$pattern" -prune -o) ;;
    esac
  done <.dockerignore
  # COPY [--chown=..] SRC... DEST: every word but the options and the last.
  while read -r -a words; do
    words=("${words[@]:1}")
    while [[ ${words[0]:-} == --* ]]; do words=("${words[@]:1}"); done
    unset 'words[${#words[@]}-1]'
    sources+=("${words[@]/#/./}")
  done < <(grep -iE '^[[:space:]]*COPY[[:space:]]' "$dockerfile" | grep -v -- '--from=')
  {
    cat "$dockerfile"
    printf '%s\n' "$@"
    for arg in "$@"; do  # the base images' IDs: a rebuilt base makes a new key
      [[ $arg == *=* ]] && docker image inspect -f '{{.Id}}' "${arg#*=}" 2>/dev/null || true
    done
    find "${sources[@]}" "${prune[@]}" -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum
  } | sha256sum | cut -c1-32
}

build() {
  local tag=$1 dockerfile=$2; shift 2
  [ -f "$dockerfile" ] || die "no Dockerfile at $dockerfile"
  local key built=""
  key=$(build_key "$dockerfile" "$@")
  [[ " $* " == *" --no-cache "* ]] || built=$(docker image inspect -f '{{index .Config.Labels "baton.build-key"}}' "$tag" 2>/dev/null || true)
  if [ "$built" = "$key" ]; then
    echo "$tag is up to date (built from these sources, options and base)"
    return 0
  fi
  echo "building $tag on $(printf '%s\n' "$@" | sed -n 's/^PYTHON_IMAGE=//p' | head -1)"
  local targets=() stage
  if ! buildkit; then
    while read -r stage; do targets+=("$stage"); done < <(stages "$dockerfile")
  fi
  local names=() olds=()
  for stage in "${targets[@]}"; do names+=("$(stage_tag "$tag" "$stage")"); done
  names+=("$tag")
  for name in "${names[@]}"; do olds+=("$(image_id "$name")"); done

  local i=0
  bk=0
  buildkit && bk=1
  for stage in "${targets[@]}"; do
    run_build "${names[$i]}" --target "$stage" -f "$dockerfile" "$@"
    i=$((i + 1))
  done
  run_build "$tag" -f "$dockerfile" --label "baton.build-key=$key" "$@"

  for i in "${!names[@]}"; do
    [ "${olds[$i]}" = "$(image_id "${names[$i]}")" ] || drop "${olds[$i]}"
  done
  clean
}

remove() {
  local tag=$1 dockerfile=$2 stage name
  local names=("$tag")
  while read -r stage; do names+=("$(stage_tag "$tag" "$stage")"); done < <(stages "$dockerfile")
  for name in "${names[@]}"; do
    docker image inspect "$name" >/dev/null 2>&1 || continue
    if docker rmi "$name" >/dev/null 2>&1; then
      echo "removed image $name"
    else
      echo "kept image $name: a container still uses it (docker ps -a --filter ancestor=$name)" >&2
    fi
  done
  clean
}

case ${1:-} in
  build) [ $# -ge 3 ] || die "usage: build.sh build TAG DOCKERFILE [docker build options...]"; shift; build "$@" ;;
  remove) [ $# -eq 3 ] || die "usage: build.sh remove TAG DOCKERFILE"; remove "$2" "$3" ;;
  clean) clean ;;
  *) die "usage: build.sh build|remove|clean ..." ;;
esac
