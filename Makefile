# Thin wrapper: every target installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK ?= fastapi_batcher
HOST ?= 127.0.0.1
PORT ?=
MODEL ?= default
WORKLOAD ?=
PROFILE ?= full

.DEFAULT_GOAL := help
.PHONY: help install model test lint serve stacks bench-all bench bench-quick readme report sysdeps-browser

help:
	@echo "make bench-all   measure every stack, full profile (installs on first use)"
	@echo "make bench-quick one short look at every stack (~3 min)"
	@echo "make bench STACK=<name> [WORKLOAD=<name>] [PROFILE=full|quick] [MODEL=default]"
	@echo "make report      re-render the HTML report of the latest run (reports/<run_id>/index.html)"
	@echo "make test        install and run unit + integration tests"
	@echo "make serve STACK=<name> [PORT=8000] [HOST=127.0.0.1] [MODEL=default]"
	@echo "make stacks      list the registered stacks and their knobs"
	@echo "make model       train the model artifacts (light, default, heavy)"
	@echo "make lint        ruff"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

model: $(STAMP)
	$(BIN)/python -m shared_model.training --all

test: $(STAMP) sysdeps-browser
	$(BIN)/python -m shared_model.training --all
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

stacks: $(STAMP)
	$(BIN)/servebench list

serve: $(STAMP)
	SERVEBENCH_MODEL=$(MODEL) $(BIN)/servebench serve $(STACK) --host $(HOST) $(if $(PORT),--port $(PORT))

# The run's exit code is kept (1 when a stack failed), but its report is rendered either way.
bench-all: $(STAMP)
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench run --profile full --model $(MODEL); status=$$?; \
		$(BIN)/servebench report latest && exit $$status

report: $(STAMP)
	$(BIN)/servebench report latest

# Debian's chromium for the report's browser test; skipped when already there.
sysdeps-browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

bench-quick: $(STAMP)
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench run --profile quick --model $(MODEL)

bench: $(STAMP)
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench run --profile $(PROFILE) --model $(MODEL) --stacks $(STACK) \
		$(if $(WORKLOAD),--workloads $(WORKLOAD))

readme: $(STAMP)
	$(BIN)/python -m servebench.readme
