# mlops-guardrails: the two commands a newcomer needs are `make demo` and `make test`.
# Everything they need is installed here, pinned, into the repository (.venv, node_modules): no manual step.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CFN_GUARD_VERSION := 3.2.1
CFN_GUARD := .tools/bin/cfn-guard
CARGO_DENY_VERSION := 0.20.2
CARGO_DENY := .tools/bin/cargo-deny
CARGO_MACHETE_VERSION := 0.9.2
CARGO_MACHETE := .tools/bin/cargo-machete
CARGO ?= cargo
# Where cargo builds: CARGO_TARGET_DIR when set (a shared target directory), else ./target. The Lambda zips go to
# ./target/lambda either way, where the template's CodeUri points.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
export GUARDRAILS_TARGET_DIR := $(TARGET_DIR)
TEMPLATE ?= infra/template.yaml
STACK ?= mlops-guardrails
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(CURDIR)/.tools/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0

.PHONY: help setup test lint fmt-check clippy deps advisories asl guard-tests posture posture-weakened python-tests cargo-tests schemas print-functions signing-profile deploy destroy demo up invoke local-loop bench fuzz coldstart package dist dist-test lock-python clean-tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(VENV_STAMP) $(NODE_STAMP) $(CFN_GUARD) $(CARGO_DENY) $(CARGO_MACHETE) ## install the pinned tools (idempotent): Python venv, npm tools, cfn-guard, cargo-deny, cargo-machete

# The venv is rebuilt only when the pins change. Constraints pin every transitive package.
$(VENV_STAMP): tools/requirements.in tools/requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r tools/requirements.in -c tools/requirements.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The pinned Rust tools from crates.io, built with a light release profile (each run of them takes well under a
# second either way; cargo-deny measured: 3.0 min to build with its own profile, 1.5 min with this one). Each
# version is built once per machine into TOOLS_CACHE, outside the clone, and copied into .tools: a fresh clone
# (CI's) then skips about 4.5 minutes of tool builds. The cache is keyed by crate and version, and filled through
# a temporary root renamed into place, so an interrupted build never leaves a half tool behind.
TOOLS_CACHE ?= $(HOME)/.cache/mlops-guardrails/tools
TOOL_BUILD := CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=true
# $(call rust_tool,crate,version): the crate's binary (named as the crate) into .tools/bin.
define rust_tool
	@root=$(TOOLS_CACHE)/$(1)-$(2); \
	if [ ! -x $$root/bin/$(1) ]; then \
		rm -rf $$root.partial; \
		$(TOOL_BUILD) $(CARGO) install --locked --root $$root.partial --quiet $(1) --version $(2); \
		rm -rf $$root && mv $$root.partial $$root; \
	fi; \
	mkdir -p .tools/bin && cp $$root/bin/$(1) .tools/bin/$(1)
endef

$(CFN_GUARD):
	$(call rust_tool,cfn-guard,$(CFN_GUARD_VERSION))

$(CARGO_DENY):
	$(call rust_tool,cargo-deny,$(CARGO_DENY_VERSION))

$(CARGO_MACHETE):
	$(call rust_tool,cargo-machete,$(CARGO_MACHETE_VERSION))

test: setup fmt-check clippy deps asl guard-tests posture posture-weakened python-tests cargo-tests dist-test ## everything CI runs: format, lints, dependency checks, posture checks, every Rust test

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

asl: setup ## lint the state machine definitions (Amazon States Language) with @wmfs/statelint
	statelint infra/statemachine/*.asl.json

guard-tests: setup ## the cfn-guard rules against their own pass and fail cases (infra/guard*/tests)
	@for rules in infra/guard/*.guard infra/guard-pipeline/*.guard; do \
		name=$$(basename $$rules .guard); \
		cfn-guard test --rules-file $$rules --test-data $$(dirname $$rules)/tests/$${name}_tests.yaml > /tmp/guard-test-$$name.log \
			|| { cat /tmp/guard-test-$$name.log; echo "guard tests failed: $$rules"; exit 1; }; \
		echo "guard tests passed: $$rules"; \
	done

posture: setup ## security posture on TEMPLATE (default infra/template.yaml): cfn-guard, cfn-lint, sam validate, statelint; and on the CI/CD pipeline
	tools/posture.sh $(TEMPLATE)
	tools/posture.sh --pipeline infra/pipeline.yaml

posture-weakened: setup ## the posture check fails on each deliberately weakened copy of the template
	$(VENV)/bin/python tools/posture_weakened.py

python-tests: setup ## the Python the project ships: tools/stage_report.py against schemas/stage-report.schema.json, and the cold-start tool's fault count
	$(VENV)/bin/python -m unittest discover --start-directory tools --pattern 'test_*.py'

cargo-tests: setup ## every Rust test: decision tables, emulator tests on moto, the local loop end to end
	$(CARGO) test --workspace --locked

# Licenses, banned and duplicate crates, sources (deny.toml): offline, once every platform's crates are fetched
# (cargo-deny reads the whole graph, Windows and Android crates included, which a Linux build never downloads).
# Unused dependencies: cargo-machete.
deps: setup ## dependency checks: licenses, bans and duplicates, sources (cargo-deny), unused dependencies (cargo-machete)
	$(CARGO) fetch --locked
	cargo-deny --locked --offline check licenses bans sources
	cargo-machete

# The RustSec database is fetched over git from GitHub, which the CI machine cannot reach: run where it can.
advisories: setup ## known vulnerabilities in dependencies (cargo-deny advisories; needs network access to GitHub)
	cargo-deny --locked check advisories

lint: fmt-check clippy ## format check and clippy only

schemas: ## write the JSON Schemas generated from the types (schemas/events/, the contract, the report) and the template's registry contents
	GUARDRAILS_WRITE_SCHEMAS=1 $(CARGO) test --locked -p guardrails-tests --test event_schemas

# Parameters for the local loop, e.g. make up ARGS="--param AutoApprove=true".
ARGS ?=

local-loop: setup
	$(CARGO) build --quiet --locked -p local-loop --bin guardrails-local

demo: local-loop ## the whole pipeline on the local emulator, wired from the template (no AWS account): a scripted story
	$(TARGET_DIR)/debug/guardrails-local demo $(ARGS)

up: local-loop ## the same loop left running: upload with any S3 client, type commands; Ctrl-C stops it
	$(TARGET_DIR)/debug/guardrails-local up $(ARGS)

# One function on one event, e.g. make invoke FN=cost-guard EVENT=events/scheduled-event.json
FN ?=
EVENT ?=
invoke: local-loop ## one handler (FN=its binary) on one event (EVENT=file) against the emulator, with the template's environment: logs, metrics, answer
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<function, e.g. cost-guard> EVENT=<file, e.g. events/scheduled-event.json>"; exit 2; }
	$(TARGET_DIR)/debug/guardrails-local invoke $(FN) $(EVENT) $(ARGS)

bench: setup ## dataset-check throughput, memory and bare-parse overhead (10 MB to 2 GB); the monitor's throughput, join and measured alarm rates
	$(CARGO) build --release --locked -p dataset-check --bin dataset-check --example dataset-bench
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/bench-requirements.txt -c tools/requirements.txt
	$(VENV)/bin/python tools/bench.py
	$(CARGO) run --release --locked -p text-monitor --example monitor-bench

# The dataset-check wheel for data producers: pip install target/wheels/dataset_check-*.whl puts the binary on
# the PATH of a virtualenv. dist-test installs it into a fresh one and checks a file with it.
dist: setup ## the pip-installable dataset-check wheel (maturin, the binary only) into target/wheels
	$(VENV)/bin/maturin build --release --locked --quiet -m crates/dataset-check/Cargo.toml --out $(CURDIR)/target/wheels
	@ls -l target/wheels/dataset_check-*.whl

dist-test: dist ## the wheel installed into a fresh virtualenv gives a working dataset-check
	rm -rf $(TARGET_DIR)/dist-test-venv && $(PYTHON) -m venv $(TARGET_DIR)/dist-test-venv
	$(TARGET_DIR)/dist-test-venv/bin/pip install --quiet --no-index --disable-pip-version-check \
		$$(ls -t target/wheels/dataset_check-*.whl | head -1)
	cd crates/dataset-check/tests/corpus && $(TARGET_DIR)/dist-test-venv/bin/dataset-check \
		--contract contract.json valid.csv > /dev/null
	@echo "dist-test: the wheel's dataset-check runs from a fresh virtualenv"

# How many mutants `make fuzz` checks, and from which seed (the suite runs a few hundred on every `make test`).
FUZZ_ITERATIONS ?= 200000
FUZZ_SEED ?= 6586798

fuzz: ## dataset-check on many mutated CSV/JSONL/gzip files (release): no panic, one report however the bytes arrive
	GUARDRAILS_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) GUARDRAILS_FUZZ_SEED=$(FUZZ_SEED) \
		$(CARGO) test --release --locked -p dataset-check --test fuzz -- --nocapture

COLDSTART_RUNS ?= 9
# The functions measured (all unless named, e.g. make coldstart COLDSTART_FUNCTIONS="posture-audit slack-forwarder").
COLDSTART_FUNCTIONS ?= $(LAMBDA_BINS)
coldstart: local-loop ## every function's cold start (init, its page faults, first invocation, peak RSS; release builds; COLDSTART_FUNCTIONS to name some) via a local Runtime API, beside a bare echo function
	$(CARGO) build --release --locked $(foreach f,$(COLDSTART_FUNCTIONS),--bin $(f)) --example echo -p guardrails-core $(foreach f,$(COLDSTART_FUNCTIONS),-p $(f))
	$(VENV)/bin/python tools/coldstart.py $(TARGET_DIR)/debug/guardrails-local $(TARGET_DIR)/release $(TARGET_DIR)/release/examples/echo $(COLDSTART_RUNS) $(COLDSTART_FUNCTIONS)

# The Lambda binaries (one per function crate, named as the crate).
LAMBDA_BINS := validate-ingest trigger-training model-gate deploy batch-launcher drift-handler inference-monitor \
	cost-guard notifier slack-forwarder posture-audit stage-report

# The functions' processor: arm64 (Graviton) unless ARCH=x86_64, which the template's Architecture parameter must
# then name too (`sam deploy --guided` asks; samconfig.toml keeps it).
# cargo-lambda cross-compiles with zig (the ziglang package it brings into the venv); rustup adds the target's
# standard library once.
ARCH ?= arm64
RUST_TARGET_arm64 := aarch64-unknown-linux-gnu
RUST_TARGET_x86_64 := x86_64-unknown-linux-gnu
RUST_TARGET = $(or $(RUST_TARGET_$(ARCH)),$(error ARCH must be arm64 or x86_64, not "$(ARCH)"))

package: setup ## build the Lambda zips (release profile, ARCH=arm64 or x86_64) into target/lambda/, where the template's CodeUri points
	rustup target add $(RUST_TARGET)
	$(VENV)/bin/cargo-lambda lambda build --release --locked --target $(RUST_TARGET) --output-format zip --lambda-dir $(CURDIR)/target/lambda $(foreach f,$(LAMBDA_BINS),--bin $(f))
	@ls -l target/lambda/*/bootstrap.zip

# Every function's code is signed with this AWS Signer profile (the template's code signing configuration refuses
# anything else); `make signing-profile` makes it once per account and region.
SIGNING_PROFILE ?= mlops_guardrails
FUNCTIONS := ValidateIngest TriggerTraining ModelGate Deploy BatchLauncher DriftHandler InferenceMonitor CostGuard \
	PostureAudit Notifier SlackForwarder StageReport
SIGNING := $(foreach f,$(FUNCTIONS),$(f)Function=$(SIGNING_PROFILE))

print-functions: ## the functions' logical id stems (the pipeline signs each one's package)
	@echo $(FUNCTIONS)

signing-profile: ## make the AWS Signer profile the functions' code is signed with; prints SigningProfileVersionArn
	aws signer put-signing-profile --profile-name $(SIGNING_PROFILE) --platform-id AWSLambda-SHA384-ECDSA \
		--query profileVersionArn --output text

deploy: package posture ## deploy the stack with SAM, every function's code signed (guided the first time, then from samconfig.toml)
	@if [ -f samconfig.toml ]; then \
		sam deploy --template-file $(TEMPLATE) --config-file samconfig.toml --signing-profiles $(SIGNING); \
	else \
		sam deploy --guided --template-file $(TEMPLATE) --stack-name $(STACK) --capabilities CAPABILITY_NAMED_IAM \
			--signing-profiles $(SIGNING) --config-file samconfig.toml; \
	fi

destroy: ## delete the stack (buckets holding objects are kept: empty them first, see the README)
	sam delete --stack-name $(STACK)

lock-python: ## re-resolve tools/requirements.txt from tools/requirements.in
	rm -rf /tmp/guardrails-lock-venv && $(PYTHON) -m venv /tmp/guardrails-lock-venv
	/tmp/guardrails-lock-venv/bin/pip install --quiet -r tools/requirements.in
	{ sed -n '1,2p' tools/requirements.txt; /tmp/guardrails-lock-venv/bin/pip freeze; } > tools/requirements.txt.new
	mv tools/requirements.txt.new tools/requirements.txt

clean-tools: ## remove the installed tools and the tool cache (the next setup reinstalls and rebuilds them)
	rm -rf $(VENV) node_modules .tools $(TOOLS_CACHE)
