# mlops-guardrails: the two commands a newcomer needs are `make demo` and `make test`.
# Everything they need is installed here, pinned, into the repository (.venv, node_modules): no manual step.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CARGO ?= cargo
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help setup test lint fmt-check clippy asl unit demo bench coldstart package lock-python clean-tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(VENV_STAMP) $(NODE_STAMP) ## install the pinned tools (idempotent): Python venv, npm tools

# The venv is rebuilt only when the pins change. Constraints pin every transitive package.
$(VENV_STAMP): tools/requirements.in tools/requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r tools/requirements.in -c tools/requirements.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test: setup fmt-check clippy asl unit ## everything CI runs: format, lints, state machine lint, unit and emulator tests

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

asl: setup ## lint the state machine definitions (Amazon States Language) with @wmfs/statelint
	statelint infra/statemachine/*.asl.json

unit: setup
	$(CARGO) test --workspace --locked

lint: fmt-check clippy ## format check and clippy only

demo: setup ## run the ingest stage on the local emulator (no AWS account) and tell what happened
	$(CARGO) run --quiet --locked -p validate-ingest --example demo

bench: setup ## dataset-check throughput, memory and bare-parse overhead on 10 MB to 2 GB synthetic files
	$(CARGO) build --release --locked -p dataset-check --bin dataset-check --example dataset-bench
	$(VENV)/bin/python tools/bench.py

coldstart: setup ## cold start + one invocation of the release validate-ingest binary via a local Runtime API
	$(CARGO) build --release --locked -p validate-ingest --bin validate-ingest
	tools/coldstart.sh target/release/validate-ingest

package: setup ## build the Lambda zips (release profile) into target/lambda/
	$(VENV)/bin/cargo-lambda lambda build --release --locked --output-format zip --bin validate-ingest --bin trigger-training --bin model-gate --bin drift-handler --bin cost-guard
	@ls -l target/lambda/*/bootstrap.zip

lock-python: ## re-resolve tools/requirements.txt from tools/requirements.in
	rm -rf /tmp/guardrails-lock-venv && $(PYTHON) -m venv /tmp/guardrails-lock-venv
	/tmp/guardrails-lock-venv/bin/pip install --quiet -r tools/requirements.in
	{ sed -n '1,2p' tools/requirements.txt; /tmp/guardrails-lock-venv/bin/pip freeze; } > tools/requirements.txt.new
	mv tools/requirements.txt.new tools/requirements.txt

clean-tools: ## remove the installed tools (the next setup reinstalls them)
	rm -rf $(VENV) node_modules
