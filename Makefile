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
TARGETS ?=
PROM_PORT ?= 9090
SOAK_STACKS ?=
DURATION ?= 600
WINDOW ?= 10
# Debian packages the tests and `make monitor` use: a real Prometheus (and promtool),
# docker-compose to validate the compose file (no Docker engine needed for `config`), wrk,
# the native load generator of the perf profile, Java 17 for TorchServe's frontend, and
# iproute2's `ip` for the network namespaces of the cluster and remote-load tests.
SYSDEPS_CMDS := prometheus promtool docker-compose wrk java ip
SYSDEPS_PKGS := prometheus docker-compose wrk openjdk-17-jre-headless iproute2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.DEFAULT_GOAL := help
.PHONY: help install envs test-unit sysdeps model test lint serve stacks bench-all bench-perf bench bench-quick soak capacity \
	readme \
	check-regression baseline monitor compose image report sysdeps-browser

help:
	@echo "make bench-all   measure every stack, full profile (installs on first use)"
	@echo "make bench-quick one short look at every stack (~3 min)"
	@echo "make bench STACK=<name> [WORKLOAD=<name>] [PROFILE=full|quick] [MODEL=default|<registered>]"
	@echo "make soak [SOAK_STACKS='a b'] [DURATION=600] [WINDOW=10]  steady load per stack: memory and p99 drift"
	@echo "make capacity [MODEL='light default heavy'] [STACKS='a b'] [SLO_MS=50] [WORKERS=1,2]  open-loop max req/s within the p99 SLO"
	@echo "make report      re-render the HTML report of the latest run of any kind (reports/<run_id>/index.html)"
	@echo "make test        install and run lint, unit and integration tests"
	@echo "make test-unit   the unit tests only (no server started)"
	@echo "make serve STACK=<name> [PORT=8000] [HOST=127.0.0.1] [MODEL=default|<registered>]"
	@echo "make stacks      list the registered stacks and their knobs"
	@echo "make model       train the model artifacts (light, default, heavy)"
	@echo "servebench model add NAME --artifact FILE --sample FILE   register a model of your own (docs/your-model.md)"
	@echo "make lint        ruff, import contracts (layers), mypy"
	@echo "make monitor [TARGETS='STACK=HOST:PORT ...'] [PROM_PORT=9090]  Prometheus on loopback scraping the stacks"
	@echo "make compose     re-render docker-compose.yml, monitoring/ and deploy/k8s/ from the registry"
	@echo "make image       docker build the service image (needs a Docker engine)"
	@echo "make sysdeps     apt-get install what the tests need, if missing"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# A stack whose pins clash with the main environment gets its own virtual environment:
# servers/envs/<name>.txt pins it, and .venv-<name>/ is created on first use.
ENV_STAMPS := $(patsubst servers/envs/%.txt,.venv-%/.installed,$(wildcard servers/envs/*.txt))
.venv-%/.installed: servers/envs/%.txt
	test -x .venv-$*/bin/python || $(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip install --quiet -r $<
	touch $@

envs: $(ENV_STAMPS)

# Idempotent: apt-get runs only when one of the commands is missing.
sysdeps:
	@missing=""; for cmd in $(SYSDEPS_CMDS); do command -v $$cmd >/dev/null || missing="$$missing $$cmd"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (Debian: $(SYSDEPS_PKGS))"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(SYSDEPS_PKGS) && \
		if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then \
			$(SUDO) systemctl disable --now prometheus; fi; \
	fi

model: $(STAMP)
	$(BIN)/python -m shared_model.training --all

# Everything: lint, then the unit tests and the integration tests (real servers, real load).
# Tests marked serial measure latency or load the machine: they run alone, after the others.
test: lint envs sysdeps sysdeps-browser
	$(BIN)/python -m shared_model.training --all
	$(BIN)/python -m pytest -q -n 2 --dist loadscope --no-loadscope-reorder -m "not serial" --durations=15
	$(BIN)/python -m pytest -q -m serial --durations=15

# The unit tests alone: no server is started (well under a minute). Some check the trained
# artifacts' fingerprints, so the models are trained first (a no-op once they exist).
test-unit: $(STAMP)
	$(BIN)/python -m shared_model.training --all
	$(BIN)/python -m pytest -q -n 2 -m unit

# ruff, the layers' import contracts (pyproject.toml [tool.importlinter]) and mypy over every package.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

stacks: $(STAMP)
	$(BIN)/servebench list

serve: $(STAMP) envs
	SERVEBENCH_MODEL=$(MODEL) $(BIN)/servebench serve $(STACK) --host $(HOST) $(if $(PORT),--port $(PORT))

# The run's exit code is kept (1 when a stack failed), but its report is rendered either way.
bench-all: $(STAMP) envs sysdeps
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench run --profile full --model $(MODEL); status=$$?; \
		$(BIN)/servebench report latest && exit $$status

report: $(STAMP)
	$(BIN)/servebench report latest

# Debian's chromium for the report's browser test; skipped when already there.
sysdeps-browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

bench-quick: $(STAMP) envs sysdeps
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench run --profile quick --model $(MODEL)

# Single predictions against each server's own framework ceiling, 1/8/32/64 users, driven by
# wrk; the report checks fastapi_batcher against its performance targets (~35 min for 15 stacks:
# 2,003 s measured on 2 cores).
bench-perf: $(STAMP) envs sysdeps
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench run --profile perf --model $(MODEL)

bench: $(STAMP) envs
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench run --profile $(PROFILE) --model $(MODEL) --stacks $(STACK) \
		$(if $(WORKLOAD),--workloads $(WORKLOAD))

# Each stack held at half its probed capacity for DURATION seconds (default 10 minutes each).
# Like bench-all: the soak's exit code is kept, its report is rendered either way.
soak: $(STAMP) envs
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench soak --model $(MODEL) --duration $(DURATION) --window $(WINDOW) \
		$(if $(SOAK_STACKS),--stacks $(SOAK_STACKS)); status=$$?; \
		$(BIN)/servebench report latest-soak && exit $$status

SLO_MS ?= 50
WORKERS ?=
STACKS ?=
capacity: $(STAMP) envs
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench capacity --model $(MODEL) --slo-ms $(SLO_MS) $(if $(STACKS),--stacks $(STACKS)) \
		$(if $(WORKERS),--workers $(WORKERS))

readme: $(STAMP)
	$(BIN)/python -m servebench.readme

# Latency gate: measures the commit named in results/baseline.json and the working tree here,
# in one run (exit 0 pass, 1 regression, 2 could not measure). `make baseline` names HEAD.
check-regression: $(STAMP)
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench check

baseline: $(STAMP)
	$(BIN)/python -m shared_model.training --all
	$(BIN)/servebench baseline

monitor: $(STAMP) sysdeps
	$(BIN)/servebench monitor --port $(PROM_PORT) $(foreach target,$(TARGETS),--target $(target))

compose: $(STAMP)
	$(BIN)/servebench compose
	$(BIN)/servebench k8s

image:
	docker build -t servebench:latest .
