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
# Built here (`make jobs-image`).
BATON_JOBS_IMAGE ?= baton/jobs:local
export BATON_PYTHON_IMAGE BATON_POSTGRES_IMAGE BATON_JOBS_IMAGE

# uv: the one on PATH, else a pinned copy installed into .baton/tools by `make setup`.
UV_VERSION ?= 0.13.8
UV ?= $(or $(shell command -v uv 2>/dev/null),.baton/tools/bin/uv)
# Trust the system's CA store (corporate proxies, TLS-intercepting gateways).
export UV_SYSTEM_CERTS ?= 1
RUN := $(UV) run --locked --group dev --
PYTEST_ARGS ?=

# Locked environments: name -> project folder. Each gets .venvs/<name>; tests and lint use .venv.
ENVS := airflow:images/airflow meltano:images/jobs/meltano dbt:images/jobs/dbt

# The local stack: compose v2 where present, else v1. Secrets live in compose/.env (generated).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
COMPOSE_CMD = $(COMPOSE) -p baton --env-file compose/.env -f compose/compose.yml
BATON_SHOP_PORT ?= 5433
# Host folders mounted into job containers: the warehouse (DuckDB files) and the marketing files.
export BATON_DATA_DIR ?= $(CURDIR)/.baton/data
SOURCE ?= shop
ROWS ?= 1000
# Read when used, so a compose/.env generated earlier in the same run counts.
SHOP_DSN = postgresql://shop:$(shell sed -n 's/^BATON_SHOP_PASSWORD=//p' compose/.env)@127.0.0.1:$(BATON_SHOP_PORT)/shop

.PHONY: help setup lock lint format test test-unit test-integration base-images jobs-image clean bake \
	env-file databases seed next-day el dbt query down bench-el

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
	cd meltano && ../.venvs/meltano/bin/meltano install

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

bake: ## Bake the DAGs' metadata (dags/baked: source list, dbt manifest from `dbt parse`)
	cd dbt && DBT_PROFILES_DIR=. ../.venvs/dbt/bin/dbt parse --quiet
	$(RUN) python tools/bake.py dbt/target/manifest.json dags/baked

test-unit: $(UV) bake ## Unit tests: no services needed
	$(RUN) pytest tests/unit $(PYTEST_ARGS)

test-integration: $(UV) bake ## Integration tests: needs a Docker engine (testcontainers), base images, jobs image
	@if docker info >/dev/null 2>&1; then $(MAKE) jobs-image; fi
	$(RUN) pytest tests/integration $(PYTEST_ARGS)

base-images: ## Build the offline base images from Debian packages (FORCE=1 rebuilds; BATON_EXTRA_CA_CERTS)
	@bash images/base/build.sh

jobs-image: ## Build the jobs image (Meltano + plugins, dbt, both projects, manifest) as BATON_JOBS_IMAGE
	@echo "building $(BATON_JOBS_IMAGE) on $(BATON_PYTHON_IMAGE)"
	@docker build -q -f images/jobs/Dockerfile --build-arg PYTHON_IMAGE=$(BATON_PYTHON_IMAGE) \
	  -t $(BATON_JOBS_IMAGE) . >/dev/null

env-file: ## Generate compose/.env, the local stack's secrets, unless it exists
	@test -s compose/.env || { umask 077; python3 -c 'import secrets; [print(f"{k}={secrets.token_urlsafe(24)}") for k in ("BATON_POSTGRES_PASSWORD", "BATON_SHOP_PASSWORD")]' > compose/.env \
	  && echo "generated compose/.env: the local stack's secrets (not committed)"; }

databases: env-file ## Start the metadata and shop source databases, wait until healthy
	@mkdir -p $(BATON_DATA_DIR)/warehouse $(BATON_DATA_DIR)/marketing
	@chmod 0777 $(BATON_DATA_DIR)/warehouse  # job containers write as their own user
	$(COMPOSE_CMD) up -d postgres source-db
	@bash compose/wait-healthy.sh 120 $$($(COMPOSE_CMD) ps -q postgres source-db)
	@ls $(BATON_DATA_DIR)/marketing/*.csv >/dev/null 2>&1 || \
	  $(RUN) python -m samples.generate --marketing-dir $(BATON_DATA_DIR)/marketing marketing

seed: databases jobs-image ## Replace the sample data (ROWS shop orders, default 1000); resets raw copies and state
	$(RUN) python -m samples.generate --dsn $(SHOP_DSN) --marketing-dir $(BATON_DATA_DIR)/marketing seed --orders $(ROWS)
	@# New data under an old bookmark would never be extracted: start the sources over.
	rm -f $(BATON_DATA_DIR)/warehouse/raw_shop.duckdb $(BATON_DATA_DIR)/warehouse/raw_marketing.duckdb
	$(COMPOSE_CMD) run --rm jobs meltano state clear --all --force

next-day: databases ## Append the next day to both sample sources (new and changed orders, one ad spend file)
	$(RUN) python -m samples.generate --dsn $(SHOP_DSN) --marketing-dir $(BATON_DATA_DIR)/marketing next-day

el: databases jobs-image ## Extract-load one source in the jobs image, then show row counts: make el SOURCE=shop
	@$(COMPOSE_CMD) run --rm jobs meltano upgrade database >/dev/null
	$(COMPOSE_CMD) run --rm jobs meltano run tap-$(SOURCE) target-raw-$(SOURCE)
	@$(MAKE) query

dbt: databases jobs-image ## Run dbt in the jobs image: make dbt CMD='build --select tag:finance'
	$(COMPOSE_CMD) run --rm jobs dbt $(or $(CMD),build)

query: ## Read-only SQL on the local warehouse: make query SQL='select ...' (default: row counts)
	@BATON_WAREHOUSE_DIR=$(BATON_DATA_DIR)/warehouse .venvs/dbt/bin/python tools/query.py $(if $(SQL),"$(SQL)")

down: env-file ## Stop the local stack (its data volumes are kept)
	$(COMPOSE_CMD) --profile jobs down

bench-el: ## Benchmark extract-load throughput of shop (10k, 100k, 1M orders; full and 1% incremental)
	$(RUN) python benchmarks/el_throughput.py $(BENCH_ARGS)

clean: ## Remove the local environments and caches (.venv, .venvs, .baton/tools); keeps data and images
	rm -rf .venv .venvs .baton/tools .pytest_cache .ruff_cache meltano/.meltano dbt/target
