#!/usr/bin/env bash
# make deploy / make sync-dags / make tf: deliver to a deployment on AWS. Runs from the repository
# root. One Terraform configuration (terraform/envs) serves every environment: ENV picks its
# variables (envs/ENV.tfvars), its state (envs/ENV.s3.tfbackend) and its working folder.
#   cloud.sh deploy ENV           build and push both images (tag: the git commit), sync the DAGs,
#                                 terraform apply, wait until the Airflow services are stable
#   cloud.sh sync-dags ENV        upload only DAG changes to the deployment's S3 DAG bundle
#   cloud.sh terraform ENV ARGS   any terraform command on ENV's state, e.g. output -json runner_environment
# Settings (environment):
#   TF_STATE_BUCKET  S3 bucket holding the Terraform state (required)
#   AWS_REGION       region of the state bucket and the deployment (default eu-central-1)
#   IMAGE_TAG        image tag to deploy (default: the current commit; the tree must be clean)
#   RUN              how to run Python with boto3 (the Makefile passes its $(RUN))
#   MAKE             make, to build the images with the Makefile's settings (settings.env)
#   TF_PLUGIN_DIR    a local provider mirror, when the registry is unreachable
set -euo pipefail

action=${1:?usage: cloud.sh deploy|sync-dags|terraform ENV [terraform arguments]}
env=${2:-}
envs=terraform/envs
[[ -n "$env" && -f "$envs/$env.tfvars" && -f "$envs/$env.s3.tfbackend" ]] || {
  known=$(cd "$envs" && ls -- *.tfvars 2>/dev/null | sed 's/\.tfvars$//' | tr '\n' ' ')
  echo "ENV must name an environment of $envs ($known): make $action ENV=dev" >&2; exit 1; }
shift 2
[[ -n "${TF_STATE_BUCKET:-}" ]] || {
  echo "TF_STATE_BUCKET is required: the S3 bucket holding the Terraform state (create it once, versioned)" >&2; exit 1; }
export AWS_REGION=${AWS_REGION:-eu-central-1}
# A TF_CLI_CONFIG_FILE that names a missing file only makes terraform warn on every call.
[[ -n "${TF_CLI_CONFIG_FILE:-}" && -f "$TF_CLI_CONFIG_FILE" ]] || TF_CLI_CONFIG_FILE=$PWD/terraform/tools/terraform.rc
# Each environment keeps its own working folder (backend settings, providers), so switching
# between them never reuses the other's state.
export TF_IN_AUTOMATION=1 TF_INPUT=0 TF_CLI_CONFIG_FILE TF_DATA_DIR=$PWD/.baton/terraform/env-$env
# The environment's variables for every command that evaluates the configuration.
for command in plan apply destroy refresh import console; do
  export "TF_CLI_ARGS_$command=-var-file=$env.tfvars"
done
read -r -a run <<<"${RUN:-python3}"
read -r -a make <<<"${MAKE:-make}"
tf() { terraform -chdir="$envs" "$@"; }

init_args=(-input=false -reconfigure -backend-config="$env.s3.tfbackend"
  -backend-config="bucket=$TF_STATE_BUCKET" -backend-config="region=$AWS_REGION")
[[ -n "${TF_PLUGIN_DIR:-}" ]] && init_args+=(-plugin-dir="$TF_PLUGIN_DIR")
tf init "${init_args[@]}" >/dev/null

sync_dags() {
  local bucket prefix
  bucket=$(tf output -raw dag_bucket)
  prefix=$(tf output -raw dag_prefix)
  "${run[@]}" python terraform/tools/sync_dags.py --bucket "$bucket" --prefix "$prefix" --source dags
}

case "$action" in
  terraform)
    tf "$@" ;;
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
    tf apply -auto-approve "${vars[@]}" -target=module.baton.module.ecr -target=module.baton.module.dag_bucket
    repos=$(tf output -json repository_urls)
    url() { "${run[@]}" python -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$repos" "$1"; }
    jobs=$(url jobs):$IMAGE_TAG airflow=$(url airflow):$IMAGE_TAG
    registry=${jobs%%/*}
    "${run[@]}" python terraform/tools/aws_steps.py ecr-password "$registry" | docker login --username AWS --password-stdin "$registry"
    # The Makefile's targets build both images with settings.env's bases, versions and constants;
    # the jobs image first: the Airflow image copies the DAGs' baked metadata from it.
    for image in "$jobs" "$airflow"; do
      repository=${image#*/}
      if "${run[@]}" python terraform/tools/aws_steps.py image-exists "${repository%:*}" "$IMAGE_TAG"; then
        echo "$image is already pushed (tags are immutable)"
        continue
      fi
      if [[ "$image" == "$jobs" ]]; then
        "${make[@]}" jobs-image BATON_JOBS_IMAGE="$jobs"
      else
        "${make[@]}" airflow-image BATON_JOBS_IMAGE="$jobs" BATON_AIRFLOW_IMAGE="$airflow"
      fi
      docker push "$image"
    done
    sync_dags
    tf apply -auto-approve "${vars[@]}"
    cluster=$(tf output -raw cluster_name)
    # shellcheck disable=SC2046  # service names have no spaces
    "${run[@]}" python terraform/tools/aws_steps.py wait-stable "$cluster" \
      $(tf output -json service_names | "${run[@]}" python -c "import json,sys; print(' '.join(json.load(sys.stdin).values()))")
    echo "deployed $IMAGE_TAG to $env: $(tf output -raw ui_url)" ;;
  *)
    echo "unknown action $action: deploy, sync-dags or terraform" >&2; exit 1 ;;
esac
