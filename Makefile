# vardpuls: `make run` runs the pipeline locally, `make test` runs every test.
# Both install what they need first (`make tools`). Set CARGO_TARGET_DIR to reuse a build.

SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
CONFIG ?= deploy/local/vardpuls.toml

BENCH_ARGS ?=

.PHONY: bench all build run test test-rust test-contracts test-deploy measure-recovery tools tool-broker tool-python tool-debian schemas rules lint fmt clean

all: build

build:
	$(CARGO) build --workspace

## run: start a local broker, every vardpuls service and the live simulator; print where to look.
run: tools
	$(CARGO) run -p vardpuls -- --config $(CONFIG) run --simulate

## test: unit, contract and end-to-end tests (the end-to-end tests start their own brokers).
test: tools test-contracts test-deploy test-rust

# nextest when installed (one summary line, per-test timing); plain cargo test otherwise.
# The end-to-end tests run the real `vardpuls` binary (to kill it with SIGKILL): build it first.
test-rust: export VARDPULS_BIN = $(abspath $(or $(CARGO_TARGET_DIR),target))/debug/vardpuls
test-rust:
	$(CARGO) build -p vardpuls
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
	  $(CARGO) test --workspace --all-targets --no-fail-fast; \
	fi

test-contracts:
	@tmp=$$(mktemp -d) && mkdir -p $$tmp/examples \
	  && $(PYTHON) tools/gen_schemas.py $$tmp >/dev/null \
	  && $(PYTHON) tools/gen_schema_examples.py $$tmp/examples >/dev/null \
	  && (diff -r $$tmp schemas >/dev/null || { echo "schemas/ differs from tools/gen_*.py: run 'make schemas' and commit"; diff -r $$tmp schemas | head -20; rm -rf $$tmp; exit 1; }) \
	  && rm -rf $$tmp
	$(PYTHON) tests/contracts/check_schemas.py

## test-deploy: compose, Kubernetes and cross-file consistency checks (no Docker engine needed).
test-deploy:
	$(PYTHON) tests/deploy/check_deploy.py

## bench: the benchmarks of docs/performance.md on this machine (the `dist` build the image ships); writes
## bench/results.json. Smaller runs: make bench BENCH_ARGS="--events 1000000".
bench: tools
	$(CARGO) build --profile dist -p vardpuls
	$(PYTHON) bench/run_bench.py --binary $(abspath $(or $(CARGO_TARGET_DIR),target))/dist/vardpuls $(BENCH_ARGS)

## measure-recovery: restart time after SIGKILL and checkpoint size, on a generated stream.
measure-recovery: tools
	$(CARGO) build -p vardpuls
	VARDPULS_BIN=$(abspath $(or $(CARGO_TARGET_DIR),target))/debug/vardpuls \
	  $(CARGO) test -p vardpuls-e2e --test e2e measure_restart_recovery -- --ignored --nocapture

## rules: regenerate deploy/prometheus/*.rules.yml from the KPI catalogue and deploy/targets.toml.
rules:
	$(CARGO) run -q -p vardpuls -- rules --out deploy/prometheus

## schemas: regenerate schemas/ from tools/gen_schemas.py and tools/gen_schema_examples.py.
schemas:
	$(PYTHON) tools/gen_schemas.py
	$(PYTHON) tools/gen_schema_examples.py

## tools: the Kafka-protocol broker (nisshi; tansu 0.6 without Rust 1.96), the Python packages the contract checks use, and
## Debian's prometheus (promtool), prometheus-alertmanager (amtool) and chromium for the
## observability tests.
tools: tool-broker tool-python tool-debian

tool-broker:
	@CARGO="$(CARGO)" tools/install_broker.sh

DEBIAN_TOOLS := openssl:openssl prometheus:prometheus promtool:prometheus amtool:prometheus-alertmanager chromium:chromium docker-compose:docker-compose
tool-debian:
	@missing=$$( (for t in $(DEBIAN_TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || echo $${t##*:}; done; \
	  [ -f /usr/include/openssl/ssl.h ] || echo libssl-dev) | sort -u | tr '\n' ' '); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

tool-python:
	@$(PYTHON) -c "import jsonschema, rfc3339_validator, duckdb, yaml, kubernetes_validate" 2>/dev/null || \
	  $(PYTHON) -m pip install --quiet --disable-pip-version-check jsonschema rfc3339-validator duckdb pyyaml kubernetes-validate

lint:
	$(CARGO) fmt --all -- --check
	# TLS (the `tls` feature, OpenSSL from libssl-dev) is a default feature: built and linted here.
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
