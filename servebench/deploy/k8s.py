"""A Kubernetes example for one stack: Deployment, Service and HorizontalPodAutoscaler.

Liveness watches `/health` (restart a hung process), readiness `/health/ready` (route traffic
only once the model is loaded): confusing the two restarts pods that are merely loading.
"""

from __future__ import annotations

from typing import Any

from servebench.deploy import container
from servebench.deploy.yamltext import dump_all
from servers.registry import Stack, flagship

DEFAULT_STACK = flagship().name
PORT_NAME = "http"
RUN_AS_USER = 10001  # the image's unprivileged user


def _probe(path: str, period_s: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": PORT_NAME},
        "periodSeconds": period_s,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _millicores(cpus: float) -> str:
    return f"{round(cpus * 1000)}m"


def deployment(stack: Stack, image: str) -> dict[str, Any]:
    name = container.dns_name(stack)
    res = container.resources(stack)
    labels = {"app.kubernetes.io/name": "servebench", "app.kubernetes.io/instance": name}
    startup = _probe(stack.paths["health"], 2, max(1, int(stack.ready_timeout_s) // 2))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(container.CONTAINER_PORT),
                        "prometheus.io/path": stack.paths["metrics"],
                    },
                },
                "spec": {
                    "terminationGracePeriodSeconds": container.grace_period_s(stack),
                    "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS_USER},
                    "containers": [
                        {
                            "name": "server",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "env": [{"name": k, "value": v} for k, v in container.environment(stack).items()],
                            "ports": [{"name": PORT_NAME, "containerPort": container.CONTAINER_PORT}],
                            "startupProbe": startup,
                            "livenessProbe": _probe(stack.paths["health"], 10, 3),
                            "readinessProbe": _probe(stack.paths["ready"], 5, 2),
                            "resources": {
                                "requests": {"cpu": _millicores(res.cpus_request),
                                             "memory": f"{res.memory_request_mib}Mi"},
                                "limits": {"cpu": _millicores(res.cpus), "memory": f"{res.memory_mib}Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def service(stack: Stack) -> dict[str, Any]:
    name = container.dns_name(stack)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "servebench"}},
        "spec": {
            "selector": {"app.kubernetes.io/name": "servebench", "app.kubernetes.io/instance": name},
            "ports": [{"name": PORT_NAME, "port": stack.default_port, "targetPort": PORT_NAME}],
        },
    }


def autoscaler(stack: Stack, max_replicas: int = 4) -> dict[str, Any]:
    name = container.dns_name(stack)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    }


def manifests(stack: Stack, image: str = container.IMAGE) -> list[dict[str, Any]]:
    return [deployment(stack, image), service(stack), autoscaler(stack)]


def render(stack: Stack, image: str = container.IMAGE, header: str = "") -> str:
    return header + dump_all(manifests(stack, image))
