# syntax=docker/dockerfile:1
# One image for every registered stack; SERVEBENCH_STACK chooses which one runs.
#   docker build -t servebench:latest .
#   docker run --rm -p 127.0.0.1:8004:8000 -e SERVEBENCH_STACK=fastapi_batcher servebench:latest
# Build arguments: SERVEBENCH_STACK (default stack), SERVEBENCH_MODELS (profiles baked in),
# SERVEBENCH_ENV (a stack's own environment, servers/envs/<name>.txt, built in beside the main one:
#   docker build --build-arg SERVEBENCH_ENV=torchserve -t servebench-torchserve:latest .
# docker-compose.yml and deploy/k8s/ name the image each stack needs).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: dependencies, the package and the model artifacts ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
# Pinned dependencies first, from pyproject.toml alone: this layer survives code changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
# .dockerignore lets only the packages and pyproject.toml in.
COPY . .
RUN pip install --no-deps .
# A stack whose pins clash with the main environment gets its own, as `make envs` makes it.
ARG SERVEBENCH_ENV=""
RUN set -e; if [ -n "${SERVEBENCH_ENV}" ]; then \
        python -m venv "/opt/.venv-${SERVEBENCH_ENV}"; \
        "/opt/.venv-${SERVEBENCH_ENV}/bin/pip" install -r "servers/envs/${SERVEBENCH_ENV}.txt"; \
        "/opt/.venv-${SERVEBENCH_ENV}/bin/pip" install --no-deps .; \
    fi

# Train at build time (deterministic, no download), then check every artifact's sha256
# against its metadata with the same loader the servers use.
ARG SERVEBENCH_MODELS="default"
ENV SERVEBENCH_ARTIFACTS=/opt/servebench/artifacts
WORKDIR /
RUN set -e; for profile in ${SERVEBENCH_MODELS}; do \
        python -m shared_model.training --profile "$profile"; \
    done; \
    python -m servebench.artifacts ${SERVEBENCH_MODELS}

# ---- runtime: the virtualenv and the artifacts, no compiler, no pip cache, no root ----
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVEBENCH_STACK=fastapi_batcher
ARG SERVEBENCH_ENV=""
# TorchServe's frontend is a Java 17 program.
RUN if [ "${SERVEBENCH_ENV}" = "torchserve" ]; then \
        apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
        && rm -rf /var/lib/apt/lists/*; \
    fi
ENV PATH=/opt/venv/bin:$PATH \
    SERVEBENCH_VENVS=/opt \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SERVEBENCH_ARTIFACTS=/opt/servebench/artifacts \
    SERVEBENCH_RUN_DIR=/tmp/servebench \
    SERVEBENCH_STACK=${SERVEBENCH_STACK} \
    SERVEBENCH_MODEL=default \
    SERVEBENCH_PORT=8000
RUN groupadd --system --gid 10001 servebench \
    && useradd --system --uid 10001 --gid servebench --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin servebench
COPY --from=build /opt /opt
# Check again what this stage actually holds: every baked-in artifact matches its fingerprint.
RUN python -m servebench.artifacts
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
# Readiness, not liveness: the container is healthy once the model is loaded and it answers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-m", "servebench.probe", "--path", "/health/ready"]
# exec twice (sh, then serve): the server itself is the main process and gets SIGTERM directly.
CMD ["sh", "-c", "exec servebench serve \"$SERVEBENCH_STACK\" --host 0.0.0.0 --port \"$SERVEBENCH_PORT\""]
