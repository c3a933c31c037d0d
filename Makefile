# Koshi-qon: one entry point for everything a person or CI runs.
# Prerequisites: Python 3.11, Java 17, Maven. Everything else is installed by `make install`.

SHELL := /bin/bash
.DEFAULT_GOAL := help

BOOTSTRAP := .local/bootstrap
UV ?= $(shell command -v uv 2>/dev/null || echo $(BOOTSTRAP)/bin/uv)
RUN := $(UV) run --frozen
export UV_PYTHON_DOWNLOADS := never
# unset, KOSHIQON_ENV means prod (the development key and password refused): say dev
export KOSHIQON_ENV ?= dev

.PHONY: help install lint format test test-unit infra-up infra-down infra-reset infra-status schemas bench chaos up down status logs tokens k8s

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BOOTSTRAP)/bin/uv:
	python3 -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/python -m pip install --quiet --disable-pip-version-check uv

install: $(if $(shell command -v uv 2>/dev/null),,$(BOOTSTRAP)/bin/uv) ## install uv (from PyPI when absent) and the workspace
	$(UV) sync --frozen --all-packages

lint: install ## ruff format --check, ruff check, mypy (strict on libs/ and services/)
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) mypy $(wildcard libs/*/src) $(wildcard services/*/src) tests/support

format: install ## apply ruff's formatting and safe fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

test: install ## lint and the whole suite against a Kafka and PostgreSQL started for it
	UV="$(UV)" bash scripts/test.sh

test-unit: install ## the unit tests alone (no infrastructure)
	$(RUN) pytest tests -m "not integration" -q

infra-up: install ## start the local Kafka and PostgreSQL (a no-op when they run)
	$(RUN) koshiqon infra up

infra-down: install ## stop them
	$(RUN) koshiqon infra down

infra-reset: install ## stop them and wipe their data
	$(RUN) koshiqon infra reset

infra-status: install ## say what runs
	$(RUN) koshiqon infra status

schemas: install ## export the JSON Schema of every event type into contracts/events, and contracts/asyncapi.json
	$(RUN) python -m koshiqon.common.events.schemas export contracts/events
	$(RUN) python -m koshiqon.common.events.asyncapi write contracts/asyncapi.json

# some benches start service processes: on a shared broker, run under the stack lock
bench: install ## every script in bench/ against its raw baseline, into bench/REPORT.md (needs infra-up)
	$(RUN) python bench/report.py --out bench/REPORT.md $(if $(BENCH_NOTE),--note "$(BENCH_NOTE)")

chaos: install ## faults with reconciliation at full size, on a private Kafka and PostgreSQL (docs/chaos.md)
	PYTHONPATH=tests $(RUN) python -m e2e.chaos --report .local/chaos-report.txt

# make up SEED=7 DEMO_SIZE=1000, make up DEMO=no: scripts/up.sh passes them on
up: install ## everything, detached: infra, topics, migrations, 8 supervised processes, demo data; URLs and tokens
	UV="$(UV)" bash scripts/up.sh

down: install ## stop what make up started (the processes; the infrastructure if up started it)
	$(RUN) koshiqon stack down

status: install ## each process: pid, uptime, restarts, health, its consumer group's lag
	$(RUN) koshiqon stack status

logs: install ## follow every process's log, prefixed by its name (Ctrl-C stops)
	$(RUN) koshiqon stack logs

tokens: install ## a fresh development token per role (they live an hour)
	$(RUN) koshiqon stack tokens

K8S_OUT ?= .local/k8s
k8s: install ## render the Kubernetes overlays (deploy/k8s) into $(K8S_OUT)/<overlay>.yaml
	@mkdir -p $(K8S_OUT)
	@for overlay in dev prod; do \
	  $(RUN) kubectl kustomize deploy/k8s/overlays/$$overlay > $(K8S_OUT)/$$overlay.yaml || exit 1; \
	  echo "$(K8S_OUT)/$$overlay.yaml"; \
	done
