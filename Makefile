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
# The go.mod files of what each target builds: the highest `go` directive among them is the Go it needs
# (tools/prereqs.py checks it before anything starts; the README states the same numbers, and a test holds them).
GO_MODS_DEMO := tools/go/$(DEMO_GATEWAYD)/go.mod $(EXAMPLE)/go.mod scripts/gatewayd_plugin_actions/contract/archivecheck/go.mod
GO_MODS_TEST := $(sort $(patsubst ./%,%,$(shell find . -name go.mod -not -path './.venv/*' -not -path './dist/*')))

.PHONY: help bootstrap demo test fuzz lint bench requirements clean go-demo go-test

help:
	@echo "make demo   - bootstrap .venv, release --snapshot the example plugin and verify it with real GatewayD"
	@echo "make test   - bootstrap .venv and run the whole suite (lint, types, pytest)"
	@echo "make fuzz   - the property suite, 2000 examples per property, 100 per subcommand through the CLI (failures saved for CI to replay)"
	@echo "make bench  - benchmarks; writes bench-report.md"

bootstrap: $(STAMP)

$(STAMP): requirements/dev.txt requirements/runtime.txt pyproject.toml
	$(PYTHON) tools/prereqs.py python
	$(PYTHON) -m venv $(VENV) || { $(PYTHON) tools/prereqs.py venv-failed $(VENV); exit 1; }
	$(PIP) install --require-hashes -r requirements/dev.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $@

go-demo:
	@$(PYTHON) tools/prereqs.py go $(GO_MODS_DEMO)

go-test:
	@$(PYTHON) tools/prereqs.py go $(GO_MODS_TEST)

demo: go-demo bootstrap
	$(BIN)/gatewayd-plugin-actions validate --project $(EXAMPLE)
	$(BIN)/gatewayd-plugin-actions release --snapshot --project $(EXAMPLE) --version v0.1.0 \
	  --dist dist/example --gatewayd-binary "$$($(BIN)/python tools/gobin.py $(DEMO_GATEWAYD))"

lint: bootstrap
	$(BIN)/ruff check scripts tests tools bench
	$(BIN)/mypy

test: go-test lint
	$(BIN)/python tools/gobin.py --all
	$(BIN)/pytest

# The property suite only, with many more examples; what it finds lands in tests/properties/examples.
fuzz: bootstrap
	GPA_HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/properties

bench: bootstrap
	$(BIN)/python bench/run.py --report bench-report.md

# Re-pin the hash-locked requirements with the uv pinned in dev.txt. The header uv writes records this exact
# command; Dependabot (package-ecosystem: uv) reads it to recompile the same way (--python-version,
# --generate-hashes, --output-file), so keep it (no --no-header) and keep the input file last.
UV_COMPILE := ../$(BIN)/uv pip compile --quiet --python-version 3.11 --generate-hashes
requirements: bootstrap
	cd requirements && $(UV_COMPILE) --output-file=runtime.txt runtime.in
	cd requirements && $(UV_COMPILE) --output-file=dev.txt dev.in

clean:
	rm -rf $(VENV) dist .pytest_cache .mypy_cache .ruff_cache
