# Thin wrapper: every target installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK ?= fastapi_batcher
HOST ?= 127.0.0.1
PORT ?=
MODEL ?= default

.DEFAULT_GOAL := help
.PHONY: help install model test lint serve stacks bench-all readme

help:
	@echo "make bench-all   measure every stack (installs on first use)"
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

test: $(STAMP)
	$(BIN)/python -m shared_model.training --all
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

stacks: $(STAMP)
	$(BIN)/servebench list

serve: $(STAMP)
	SERVEBENCH_MODEL=$(MODEL) $(BIN)/servebench serve $(STACK) --host $(HOST) $(if $(PORT),--port $(PORT))

bench-all: $(STAMP)
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench quickbench

readme: $(STAMP)
	$(BIN)/python -m servebench.readme
