"""docker-compose.yml: one service per registered stack, plus Prometheus and Grafana.

Each stack service has two profiles, its own name and `all`, so that
`docker compose --profile fastapi_batcher up` starts one stack and `--profile all` every one;
Prometheus and Grafana have none and always come along.
"""

from __future__ import annotations

from typing import Any

from servebench.deploy import container
from servebench.deploy.grafana import DASHBOARDS_DIR
from servebench.deploy.yamltext import dump
from servers.registry import STACKS, Stack

PROMETHEUS_IMAGE = "prom/prometheus:v2.55.1"
GRAFANA_IMAGE = "grafana/grafana-oss:11.3.1"
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
ALL_PROFILE = "all"
# Published on the host's loopback only: exposing a port further is a deliberate edit.
HOST_IP = "127.0.0.1"
# Unset or empty, it makes compose refuse the whole file: Grafana never gets a default password.
GRAFANA_PASSWORD = "${GF_ADMIN_PASSWORD:?set GF_ADMIN_PASSWORD (copy .env.example to .env)}"


def _healthcheck(test: list[str], start_period: str) -> dict[str, Any]:
    return {"test": test, "interval": "10s", "timeout": "3s", "retries": 3, "start_period": start_period}


def stack_service(stack: Stack) -> dict[str, Any]:
    res = container.resources(stack)
    return {
        "image": container.image(stack),
        "build": {"context": ".", **({"args": args} if (args := container.build_args(stack)) else {})},
        "profiles": [stack.name, ALL_PROFILE],
        "init": True,  # a real PID 1 reaps the server's worker processes
        "environment": container.environment(stack),
        "ports": [f"{HOST_IP}:{stack.default_port}:{container.CONTAINER_PORT}"],
        "read_only": True,
        "tmpfs": ["/tmp"],
        "stop_grace_period": f"{container.grace_period_s(stack)}s",
        "healthcheck": _healthcheck(
            ["CMD", *container.probe_command(stack.paths["ready"])], f"{int(stack.ready_timeout_s)}s"
        ),
        "deploy": {
            "resources": {
                "limits": {"cpus": f"{res.cpus:g}", "memory": f"{res.memory_mib}M"},
                "reservations": {"cpus": f"{res.cpus_request:g}", "memory": f"{res.memory_request_mib}M"},
            }
        },
        "restart": "unless-stopped",
    }


def prometheus_service() -> dict[str, Any]:
    return {
        "image": PROMETHEUS_IMAGE,
        "command": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=7d",
        ],
        "volumes": [
            "./monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
            "prometheus-data:/prometheus",
        ],
        "ports": [f"{HOST_IP}:{PROMETHEUS_PORT}:{PROMETHEUS_PORT}"],
        "healthcheck": _healthcheck(
            ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready"], "10s"
        ),
        "restart": "unless-stopped",
    }


def grafana_service() -> dict[str, Any]:
    return {
        "image": GRAFANA_IMAGE,
        "environment": {
            "GF_SECURITY_ADMIN_USER": "${GF_ADMIN_USER:-admin}",
            "GF_SECURITY_ADMIN_PASSWORD": GRAFANA_PASSWORD,
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
        },
        "volumes": [
            "./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro",
            f"./monitoring/grafana/dashboards:{DASHBOARDS_DIR}:ro",
            "grafana-data:/var/lib/grafana",
        ],
        "ports": [f"{HOST_IP}:{GRAFANA_PORT}:{GRAFANA_PORT}"],
        "depends_on": {"prometheus": {"condition": "service_healthy"}},
        "restart": "unless-stopped",
    }


def compose() -> dict[str, Any]:
    services = {container.dns_name(stack): stack_service(stack) for stack in STACKS.values()}
    services["prometheus"] = prometheus_service()
    services["grafana"] = grafana_service()
    return {"services": services, "volumes": {"prometheus-data": {}, "grafana-data": {}}}


def render(header: str = "") -> str:
    return header + dump(compose())
