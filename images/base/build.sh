#!/usr/bin/env bash
# Builds the offline base images from Debian packages only (no container registry needed):
#   debian   <- debootstrap --variant=minbase bookworm, imported (rootfs tarball cached)
#   python   <- drop-in for BATON_PYTHON_IMAGE (settings.env), trusting the extra CA certificates
#   postgres <- drop-in for BATON_POSTGRES_IMAGE (same env vars, init dir, data path, user)
# An image is rebuilt only when its inputs change (their hash is an image label) or FORCE=1.
# Settings (environment):
#   BATON_BASE_PREFIX       image name prefix                  (default: baton-local)
#   BATON_CACHE             where the rootfs tarball is kept   (default: ~/.cache/baton)
#   BATON_DEBIAN_MIRROR     mirror for debootstrap             (default: http://deb.debian.org/debian)
#   BATON_EXTRA_CA_CERTS    PEM file(s) or directories of extra CA certificates, colon-separated
#                           (default: /usr/local/share/ca-certificates, the host's extra CAs)
#   BATON_IMAGES_ENV        file the image variables are written to (default: .baton/images.env)
#   FORCE=1                 rebuild everything, debootstrap included
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

prefix=${BATON_BASE_PREFIX:-baton-local}
cache=${BATON_CACHE:-$HOME/.cache/baton}/base
mirror=${BATON_DEBIAN_MIRROR:-http://deb.debian.org/debian}
extra_ca=${BATON_EXTRA_CA_CERTS-/usr/local/share/ca-certificates}
images_env=${BATON_IMAGES_ENV:-$repo/.baton/images.env}
force=${FORCE:-0}

rootfs_image="$prefix/debian-rootfs:bookworm"
debian_image="$prefix/debian:bookworm"
# Drop-ins carry the official images' names (settings.env) under the prefix.
official() { sed -n "s/^$1=//p" "$repo/settings.env"; }
python_image="$prefix/$(official BATON_PYTHON_IMAGE)"
postgres_image="$prefix/$(official BATON_POSTGRES_IMAGE)"
[ "$python_image" != "$prefix/" ] && [ "$postgres_image" != "$prefix/" ] \
  || die "settings.env must set BATON_PYTHON_IMAGE and BATON_POSTGRES_IMAGE"
label=org.baton.inputs-hash

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

docker info >/dev/null 2>&1 || die "no Docker engine answers 'docker info'; start dockerd (or Docker Desktop) first"

current_hash() { docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }

# --- rootfs --------------------------------------------------------------------------------------
rootfs_tar="$cache/bookworm-minbase.tar"
if [ "$force" = 1 ] || ! docker image inspect "$rootfs_image" >/dev/null 2>&1; then
  t0=$(date +%s)
  if [ "$force" = 1 ] || [ ! -s "$rootfs_tar" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is not installed (Debian/Ubuntu: apt-get install debootstrap)"
    [ "$(id -u)" = 0 ] || die "debootstrap must run as root to build $rootfs_tar; run 'sudo make base-images' once (later runs reuse the tarball)"
    say "debootstrap bookworm (minbase) from $mirror"
    mkdir -p "$cache"
    work=$(mktemp -d "$cache/rootfs.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    debootstrap --variant=minbase bookworm "$work/root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { tail -n 20 "$cache/debootstrap.log" >&2; die "debootstrap failed; full log: $cache/debootstrap.log"; }
    rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/"*.bin "$work/root/var/cache/apt/archives/"*.deb
    tar --numeric-owner -C "$work/root" -cf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$work"; trap - EXIT
  else
    say "reusing cached rootfs $rootfs_tar"
  fi
  docker import "$rootfs_tar" "$rootfs_image" >/dev/null
  say "imported $rootfs_image ($(elapsed "$t0"))"
else
  say "$rootfs_image exists, reused"
fi

# --- images built from Dockerfiles ---------------------------------------------------------------
stage_ca() {  # stage_ca DIR: copy the extra CA certificates into DIR as *.crt
  mkdir -p "$1"
  local src f n=0
  IFS=: read -r -a srcs <<<"$extra_ca"
  for src in "${srcs[@]}"; do
    [ -n "$src" ] || continue
    [ -e "$src" ] || die "BATON_EXTRA_CA_CERTS names $src, which does not exist"
    while IFS= read -r -d '' f; do
      grep -q -- '-----BEGIN CERTIFICATE-----' "$f" || die "$f is not a PEM certificate (BATON_EXTRA_CA_CERTS)"
      n=$((n + 1))
      cp "$f" "$1/$(printf '%02d' "$n")-$(basename "${f%.*}").crt"
    done < <(find "$src" -maxdepth 1 -type f \( -name '*.crt' -o -name '*.pem' \) -print0 | sort -z)
  done
  echo "$n"
}

build() {  # build NAME DIR BUILD-ARGS...: docker build DIR as NAME unless its inputs are unchanged
  local name=$1 dir=$2; shift 2
  local ctx t0 hash
  ctx=$(mktemp -d)
  cp -a "$here/$dir/." "$ctx/"
  local ncerts=0
  if grep -q extra-ca-certificates "$ctx/Dockerfile"; then
    ncerts=$(stage_ca "$ctx/extra-ca-certificates")
  fi
  hash=$( (cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum; printf '%s\n' "$@";
           for a in "$@"; do case $a in *=*) docker image inspect -f '{{.Id}}' "${a#*=}" 2>/dev/null || true;; esac; done) \
          | sha256sum | cut -c1-16)
  if [ "$force" != 1 ] && [ "$(current_hash "$name")" = "$hash" ]; then
    say "$name is up to date, reused"
  else
    t0=$(date +%s)
    local trust=""
    [ "$ncerts" = 0 ] || trust=" (trusting $ncerts extra CA certificate(s))"
    say "building $name$trust"
    local args=() a
    for a in "$@"; do args+=(--build-arg "$a"); done
    mkdir -p "$cache"
    local log="$cache/build-$dir.log"
    if ! docker build "${args[@]}" --label "$label=$hash" -t "$name" "$ctx" >"$log" 2>&1; then
      rm -rf "$ctx"; tail -n 25 "$log" >&2
      die "docker build of $name (images/base/$dir) failed; full log: $log"
    fi
    say "built $name ($(elapsed "$t0"))"
  fi
  rm -rf "$ctx"
}

build "$debian_image" debian "ROOTFS_IMAGE=$rootfs_image"
build "$python_image" python "DEBIAN_IMAGE=$debian_image"
build "$postgres_image" postgres "DEBIAN_IMAGE=$debian_image"

mkdir -p "$(dirname "$images_env")"
cat >"$images_env" <<ENV
# Written by images/base/build.sh: the offline base images of this machine.
BATON_DEBIAN_IMAGE=$debian_image
BATON_PYTHON_IMAGE=$python_image
BATON_POSTGRES_IMAGE=$postgres_image
ENV
echo
echo "Offline base images are ready. The Makefile picks them up from ${images_env#"$repo"/}; elsewhere:"
sed -n 's/^BATON/export BATON/p' "$images_env"
