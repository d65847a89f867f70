# baton: the kit's interface. `make help` lists every target.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Offline base images written by `make base-images` (KEY=VALUE lines); the environment wins.
BATON_IMAGES_ENV ?= .baton/images.env
$(foreach kv,$(shell grep -s '^BATON_[A-Z_]*=' $(BATON_IMAGES_ENV)),\
  $(eval $(firstword $(subst =, ,$(kv))) ?= $(patsubst $(firstword $(subst =, ,$(kv)))=%,%,$(kv))))
# Otherwise the official images users pull.
BATON_PYTHON_IMAGE ?= python:3.11-slim-bookworm
BATON_POSTGRES_IMAGE ?= postgres:15-bookworm
export BATON_PYTHON_IMAGE BATON_POSTGRES_IMAGE

# uv: the one on PATH, else a pinned copy installed into .baton/tools by `make setup`.
UV_VERSION ?= 0.13.8
UV ?= $(or $(shell command -v uv 2>/dev/null),.baton/tools/bin/uv)
# Trust the system's CA store (corporate proxies, TLS-intercepting gateways).
export UV_SYSTEM_CERTS ?= 1
RUN := $(UV) run --locked --group dev --
PYTEST_ARGS ?=

# Locked environments: name -> project folder. Each gets .venvs/<name>; tests and lint use .venv.
ENVS := airflow:images/airflow meltano:images/jobs/meltano dbt:images/jobs/dbt

.PHONY: help setup lock lint format test test-unit test-integration base-images clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.baton/tools/bin/uv:
	@echo "uv not found on PATH: installing uv $(UV_VERSION) into .baton/tools"
	@python3 -m venv .baton/tools
	@.baton/tools/bin/pip install -q "uv==$(UV_VERSION)"

setup: $(UV) ## Build the local environments from the locks: .venv (tests, lint), .venvs/{airflow,meltano,dbt}
	$(UV) sync --locked --group dev
	@$(foreach e,$(ENVS),echo "$(UV) sync --locked --project $(lastword $(subst :, ,$(e))) -> .venvs/$(firstword $(subst :, ,$(e)))"; \
	  UV_PROJECT_ENVIRONMENT=$(CURDIR)/.venvs/$(firstword $(subst :, ,$(e))) \
	  $(UV) sync --locked --quiet --project $(lastword $(subst :, ,$(e)));)

lock: $(UV) ## Re-resolve every lock after a dependency change (uv.lock files)
	$(UV) lock
	@$(foreach e,$(ENVS),$(UV) lock --project $(lastword $(subst :, ,$(e)));)

lint: $(UV) ## Lint and format-check the Python code (ruff), syntax-check the shell scripts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	@for f in .ci/run $$(git ls-files '*.sh'); do bash -n "$$f" || exit 1; done

format: $(UV) ## Apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

test: test-unit test-integration ## Run every test tier (the command CI runs)

test-unit: $(UV) ## Unit tests: no services needed
	$(RUN) pytest tests/unit $(PYTEST_ARGS)

test-integration: $(UV) ## Integration tests: needs a Docker engine (testcontainers) and the base images
	$(RUN) pytest tests/integration $(PYTEST_ARGS)

base-images: ## Build the offline base images from Debian packages (FORCE=1 rebuilds; BATON_EXTRA_CA_CERTS)
	@bash images/base/build.sh

clean: ## Remove the local environments and tool caches (.venv, .venvs, .baton); keeps images
	rm -rf .venv .venvs .baton .pytest_cache .ruff_cache
