#!/usr/bin/env bash
# make tf-check: formatting, the provider-free module's tests, validation of every module and
# of the environments' configuration, checkov. Runs from the repository root.
#   TF_PLUGIN_DIR   a local provider mirror (holding registry.terraform.io/hashicorp/aws); else the
#                   first of TF_PLUGIN_SEARCH (default /opt/tf-plugins ~/.terraform.d/plugins
#                   /usr/share/terraform/plugins) holding one; else the registry (TF_REGISTRY_URL)
#   CHECKOV         the checkov executable (make cloud-tools installs .venvs/cloud/bin/checkov)
#   CI=true         a missing mirror with no registry is a failure instead of a skip
set -euo pipefail

tf=terraform
root=terraform
data=.baton/terraform
checkov=${CHECKOV:-.venvs/cloud/bin/checkov}
in_ci() { [[ "${CI:-}" =~ ^(1|true|yes)$ ]]; }
step() { printf '\n== %s\n' "$*"; }

command -v "$tf" >/dev/null || { echo "terraform not found on PATH: install Terraform >= 1.11" >&2; exit 1; }
# A TF_CLI_CONFIG_FILE that names a missing file only makes terraform warn on every call.
[[ -n "${TF_CLI_CONFIG_FILE:-}" && -f "$TF_CLI_CONFIG_FILE" ]] || TF_CLI_CONFIG_FILE=$PWD/$root/tools/terraform.rc
export TF_IN_AUTOMATION=1 TF_INPUT=0 TF_CLI_CONFIG_FILE

step "terraform fmt -check -recursive $root"
"$tf" fmt -check -recursive -diff "$root"

step "terraform test: $root/modules/spec (no provider)"
mkdir -p "$data"
TF_DATA_DIR="$PWD/$data/spec" "$tf" -chdir="$root/modules/spec" init -backend=false -input=false >/dev/null
TF_DATA_DIR="$PWD/$data/spec" "$tf" -chdir="$root/modules/spec" test -no-color

# The AWS provider: a local mirror first, else the registry, else skip (fail in CI).
if [[ -z "${TF_PLUGIN_DIR:-}" ]]; then
  for dir in ${TF_PLUGIN_SEARCH:-/opt/tf-plugins $HOME/.terraform.d/plugins /usr/share/terraform/plugins}; do
    if [[ -d "$dir/registry.terraform.io/hashicorp/aws" ]]; then TF_PLUGIN_DIR=$dir; break; fi
  done
fi
init_args=(-backend=false -input=false)
if [[ -n "${TF_PLUGIN_DIR:-}" ]]; then
  [[ -d "$TF_PLUGIN_DIR/registry.terraform.io/hashicorp/aws" ]] || {
    echo "TF_PLUGIN_DIR=$TF_PLUGIN_DIR holds no registry.terraform.io/hashicorp/aws: point it at a provider mirror" >&2; exit 1; }
  init_args+=(-plugin-dir="$TF_PLUGIN_DIR")
  echo "AWS provider from the mirror TF_PLUGIN_DIR=$TF_PLUGIN_DIR"
elif curl -sf --max-time 10 "${TF_REGISTRY_URL:-https://registry.terraform.io}/.well-known/terraform.json" >/dev/null 2>&1; then
  echo "AWS provider from registry.terraform.io (no local mirror)"
else
  msg="terraform validate skipped: no AWS provider mirror (set TF_PLUGIN_DIR to a folder holding registry.terraform.io/hashicorp/aws) and registry.terraform.io does not answer"
  if in_ci; then echo "CI=true but $msg" >&2; exit 1; fi
  echo "$msg"; exit 0
fi

# envs/ is the one root configuration of every environment (their tfvars only set variables).
for dir in "$root"/modules/*/ "$root"/envs/; do
  dir=${dir%/}
  [[ "$dir" == "$root/modules/spec" ]] && continue
  step "terraform validate: $dir"
  export TF_DATA_DIR="$PWD/$data/${dir//\//_}"
  "$tf" -chdir="$dir" init "${init_args[@]}" >/dev/null
  "$tf" -chdir="$dir" validate -no-color
done
unset TF_DATA_DIR

# Each environment's tfvars evaluated by `terraform console` on a copy of envs/ with a local
# backend (validate reads no tfvars): a wrong type fails, an unknown variable or an `environment`
# other than the file's name too.
copy=$PWD/$data/envs-tfvars
rm -rf "$copy" && mkdir -p "$copy"
cp "$root"/envs/*.tf "$root"/envs/*.tfvars "$copy"/
printf 'terraform {\n  backend "local" {}\n}\n' >"$copy/backend_override.tf"
ln -sfn "$PWD/$root/modules" "$PWD/$data/modules"  # -n: replace the link, never write into its target
export TF_DATA_DIR="$copy/.terraform"
"$tf" -chdir="$copy" init "${init_args[@]/-backend=false/-backend=true}" >/dev/null
for vars in "$root"/envs/*.tfvars; do
  env=$(basename "$vars" .tfvars)
  step "terraform console: envs with $env.tfvars"
  out=$(echo 'var.environment' | "$tf" -chdir="$copy" console -no-color -var-file="$env.tfvars" \
    -var image_tag=check -var certificate_arn=arn:aws:acm:eu-central-1:123456789012:certificate/check 2>&1) || {
    echo "$out" >&2; exit 1; }
  if grep -q "undeclared variable" <<<"$out"; then echo "$out" >&2; echo "$env.tfvars sets a variable envs/ does not declare" >&2; exit 1; fi
  [[ "$(tail -n1 <<<"$out")" == "\"$env\"" ]] || { echo "$env.tfvars must set environment = \"$env\" (got $(tail -n1 <<<"$out"))" >&2; exit 1; }
  [[ -f "$root/envs/$env.s3.tfbackend" ]] || { echo "$env.tfvars has no $env.s3.tfbackend (its state key)" >&2; exit 1; }
  echo "$env.tfvars: valid"
done
unset TF_DATA_DIR

step "checkov (terraform, offline)"
[[ -x "$checkov" ]] || { echo "$checkov not found: run make cloud-tools" >&2; exit 1; }
# Every failed check fails the target; deliberate deviations carry #checkov:skip=<id>:<reason> next
# to the resource (docs/cloud.md lists them).
"$checkov" -d "$root" --framework terraform --skip-download --quiet --compact --output cli
