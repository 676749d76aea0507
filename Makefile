# Two commands set up everything on a fresh machine: `make demo` and `make test`.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.bootstrapped
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
DEMO_GATEWAYD := gatewayd-v0.11.1
EXAMPLE := examples/gatewayd-plugin-example

.PHONY: help bootstrap demo test fuzz lint bench requirements clean

help:
	@echo "make demo   - bootstrap .venv, release --snapshot the example plugin and verify it with real GatewayD"
	@echo "make test   - bootstrap .venv and run the whole suite (lint, types, pytest)"
	@echo "make fuzz   - the property suite, 2000 examples per property, 100 per subcommand through the CLI (failures saved for CI to replay)"
	@echo "make bench  - benchmarks; writes bench-report.md"

bootstrap: $(STAMP)

$(STAMP): requirements/dev.txt requirements/runtime.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements/dev.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $@

demo: bootstrap
	$(BIN)/gatewayd-plugin-actions validate --project $(EXAMPLE)
	$(BIN)/gatewayd-plugin-actions release --snapshot --project $(EXAMPLE) --version v0.1.0 \
	  --dist dist/example --gatewayd-binary "$$($(BIN)/python tools/gobin.py $(DEMO_GATEWAYD))"

lint: bootstrap
	$(BIN)/ruff check scripts tests tools bench
	$(BIN)/mypy

test: lint
	$(BIN)/python tools/gobin.py --all
	$(BIN)/pytest

# The property suite only, with many more examples; what it finds lands in tests/properties/examples.
fuzz: bootstrap
	GPA_HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/properties

bench: bootstrap
	$(BIN)/python bench/run.py --report bench-report.md

# Re-pin the hash-locked requirements (needs uv: `pip install uv`).
requirements:
	cd requirements && uv pip compile --python-version 3.11 --generate-hashes --no-header runtime.in -o runtime.txt
	cd requirements && uv pip compile --python-version 3.11 --generate-hashes --no-header dev.in -o dev.txt

clean:
	rm -rf $(VENV) dist .pytest_cache .mypy_cache .ruff_cache
