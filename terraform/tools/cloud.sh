#!/usr/bin/env bash
# make deploy / make sync-dags: deliver to a deployment on AWS. Runs from the repository root.
#   cloud.sh deploy ENV      build and push both images (tag: the git commit), sync the DAGs,
#                            terraform apply envs/ENV, wait until the Airflow services are stable
#   cloud.sh sync-dags ENV   upload only DAG changes to the deployment's S3 DAG bundle
# Settings (environment):
#   TF_STATE_BUCKET  S3 bucket holding the Terraform state (required)
#   AWS_REGION       region of the state bucket and the deployment (default eu-central-1)
#   IMAGE_TAG        image tag to deploy (default: the current commit; the tree must be clean)
#   RUN              how to run Python with boto3 (the Makefile passes its $(RUN))
#   TF_PLUGIN_DIR    a local provider mirror, when the registry is unreachable
set -euo pipefail

action=${1:?usage: cloud.sh deploy|sync-dags ENV}
env=${2:-}
[[ -n "$env" && -d "terraform/envs/$env" ]] || {
  echo "ENV must name a folder of terraform/envs ($(ls terraform/envs | tr '\n' ' ')): make $action ENV=dev" >&2; exit 1; }
[[ -n "${TF_STATE_BUCKET:-}" ]] || {
  echo "TF_STATE_BUCKET is required: the S3 bucket holding the Terraform state (create it once, versioned)" >&2; exit 1; }
export AWS_REGION=${AWS_REGION:-eu-central-1}
# A TF_CLI_CONFIG_FILE that names a missing file only makes terraform warn on every call.
[[ -n "${TF_CLI_CONFIG_FILE:-}" && -f "$TF_CLI_CONFIG_FILE" ]] || TF_CLI_CONFIG_FILE=$PWD/terraform/tools/terraform.rc
export TF_IN_AUTOMATION=1 TF_INPUT=0 TF_CLI_CONFIG_FILE
read -r -a run <<<"${RUN:-python3}"
dir=terraform/envs/$env

init_args=(-input=false -reconfigure -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="region=$AWS_REGION")
[[ -n "${TF_PLUGIN_DIR:-}" ]] && init_args+=(-plugin-dir="$TF_PLUGIN_DIR")
terraform -chdir="$dir" init "${init_args[@]}" >/dev/null

sync_dags() {
  local bucket prefix
  bucket=$(terraform -chdir="$dir" output -raw dag_bucket)
  prefix=$(terraform -chdir="$dir" output -raw dag_prefix)
  "${run[@]}" python terraform/tools/sync_dags.py --bucket "$bucket" --prefix "$prefix" --source dags
}

case "$action" in
  sync-dags)
    sync_dags ;;
  deploy)
    if [[ -z "${IMAGE_TAG:-}" ]]; then
      [[ -z "$(git status --porcelain)" ]] || {
        echo "the work tree has uncommitted changes: commit them (images are tagged with the commit) or set IMAGE_TAG" >&2; exit 1; }
      IMAGE_TAG=$(git rev-parse --short=12 HEAD)
    fi
    vars=(-var "image_tag=$IMAGE_TAG")
    # First the repositories and the DAG bucket (a no-op after the first deploy), so there is
    # somewhere to push to before the services that run the images change.
    terraform -chdir="$dir" apply -auto-approve "${vars[@]}" \
      -target=module.baton.module.ecr -target=module.baton.module.dag_bucket
    # The jobs image first: the Airflow image copies the DAGs' baked metadata from it.
    build_args=(--build-arg "PYTHON_IMAGE=${BATON_PYTHON_IMAGE:-python:3.11-slim-bookworm}")
    logged_in=""
    for image in jobs airflow; do
      url=$(terraform -chdir="$dir" output -json repository_urls | "${run[@]}" python -c "import json,sys; print(json.load(sys.stdin)['$image'])")
      registry=${url%%/*}
      if [[ -z "$logged_in" ]]; then
        "${run[@]}" python terraform/tools/aws_steps.py ecr-password "$registry" | docker login --username AWS --password-stdin "$registry"
        logged_in=1
      fi
      if "${run[@]}" python terraform/tools/aws_steps.py image-exists "${url#*/}" "$IMAGE_TAG"; then
        echo "$url:$IMAGE_TAG is already pushed (tags are immutable)"
      else
        docker build -f "images/$image/Dockerfile" "${build_args[@]}" -t "$url:$IMAGE_TAG" .
        docker push "$url:$IMAGE_TAG"
      fi
      [[ "$image" == jobs ]] && build_args+=(--build-arg "JOBS_IMAGE=$url:$IMAGE_TAG")
    done
    sync_dags
    terraform -chdir="$dir" apply -auto-approve "${vars[@]}"
    cluster=$(terraform -chdir="$dir" output -raw cluster_name)
    # shellcheck disable=SC2046  # service names have no spaces
    "${run[@]}" python terraform/tools/aws_steps.py wait-stable "$cluster" \
      $(terraform -chdir="$dir" output -json service_names | "${run[@]}" python -c "import json,sys; print(' '.join(json.load(sys.stdin).values()))")
    echo "deployed $IMAGE_TAG to $env: $(terraform -chdir="$dir" output -raw ui_url)" ;;
  *)
    echo "unknown action $action: deploy or sync-dags" >&2; exit 1 ;;
esac
