# The cloud deployment (terraform/, docs/cloud.md): checks, the emulator tier, delivery to AWS.
# Included by the root Makefile; uses its UV, RUN and PYTEST_ARGS.

# checkov and moto's server: their own locked environment (they do not resolve with Airflow).
CLOUD_VENV := .venvs/cloud
# TF_PLUGIN_DIR: a local provider mirror for `terraform init -plugin-dir`. Unset, tf-check and
# tests/cloud look in /opt/tf-plugins, ~/.terraform.d/plugins and /usr/share/terraform/plugins.
# ENV: an environment of terraform/envs (dev, prod: <env>.tfvars + <env>.s3.tfbackend).
ENV ?=
ARGS ?=

.PHONY: cloud-tools tf-check test-cloud sync-dags deploy tf

cloud-tools: $(UV) ## Build .venvs/cloud (checkov, moto server) from terraform/tools/uv.lock
	@UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(CLOUD_VENV) $(SYNC) --quiet --project terraform/tools

tf-check: cloud-tools ## Terraform: fmt, terraform test (spec), validate modules and envs (TF_PLUGIN_DIR), checkov
	@CHECKOV=$(CLOUD_VENV)/bin/checkov bash terraform/tools/tf-check.sh

test-cloud: $(UV) cloud-tools ## Cloud tier: terraform/envs with dev.tfvars applied to moto, checked with boto3, ecs runner, destroy
	BATON_CLOUD_VENV=$(CURDIR)/$(CLOUD_VENV) $(RUN) pytest tests/cloud $(PYTEST_ARGS)

sync-dags: $(UV) bake ## Ship only DAG changes to a deployment's S3 DAG bundle: make sync-dags ENV=dev
	@RUN="$(RUN)" MAKE="$(MAKE)" bash terraform/tools/cloud.sh sync-dags $(ENV)

deploy: $(UV) bake ## Build, push both images, sync DAGs, terraform apply: make deploy ENV=dev TF_STATE_BUCKET=...
	@RUN="$(RUN)" MAKE="$(MAKE)" bash terraform/tools/cloud.sh deploy $(ENV)

tf: $(UV) ## Terraform on an environment's state: make tf ENV=dev ARGS='output -json runner_environment'
	@RUN="$(RUN)" MAKE="$(MAKE)" bash terraform/tools/cloud.sh terraform $(ENV) $(ARGS)
