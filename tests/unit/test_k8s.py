"""The Kubernetes example: required fields, probes on the contract's paths, consistent ports."""

from __future__ import annotations

import pytest
import yaml

from servebench.cli import main
from servebench.deploy import files, k8s
from servers.process import REPO_ROOT
from servers.registry import STACKS, Stack, get_stack


def check_manifests(documents: list[dict], stack: Stack) -> None:
    by_kind = {doc["kind"]: doc for doc in documents}
    assert set(by_kind) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    for doc in documents:
        assert doc["apiVersion"] and doc["metadata"]["name"]

    deployment = by_kind["Deployment"]
    spec = deployment["spec"]
    template = spec["template"]
    assert spec["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    (server,) = template["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in server["ports"]}
    assert server["livenessProbe"]["httpGet"]["path"] == stack.paths["health"]
    assert server["readinessProbe"]["httpGet"]["path"] == stack.paths["ready"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert server[probe]["httpGet"]["port"] in ports
    env = {item["name"]: item["value"] for item in server["env"]}
    assert env["SERVEBENCH_STACK"] == stack.name
    assert int(env["SERVEBENCH_PORT"]) in ports.values()
    assert template["metadata"]["annotations"]["prometheus.io/port"] == env["SERVEBENCH_PORT"]
    resources = server["resources"]
    for key in ("cpu", "memory"):
        assert key in resources["requests"] and key in resources["limits"]
    assert _mib(resources["requests"]["memory"]) <= _mib(resources["limits"]["memory"])
    assert int(resources["requests"]["cpu"].rstrip("m")) <= int(resources["limits"]["cpu"].rstrip("m"))
    assert template["spec"]["securityContext"]["runAsNonRoot"] is True

    service = by_kind["Service"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in ports and port["port"] == stack.default_port

    target = by_kind["HorizontalPodAutoscaler"]["spec"]
    assert target["scaleTargetRef"]["kind"] == "Deployment"
    assert target["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert 1 <= target["minReplicas"] <= target["maxReplicas"]


def _mib(quantity: str) -> int:
    assert quantity.endswith("Mi"), quantity
    return int(quantity[:-2])


def test_committed_example_is_valid() -> None:
    text = (REPO_ROOT / files.k8s_path(k8s.DEFAULT_STACK)).read_text()
    check_manifests(list(yaml.safe_load_all(text)), get_stack(k8s.DEFAULT_STACK))


@pytest.mark.parametrize("name", sorted(STACKS))
def test_every_stack_renders_valid_manifests(name: str) -> None:
    stack = get_stack(name)
    check_manifests(k8s.manifests(stack), stack)


def test_cli_renders_another_stack_to_stdout(capsys) -> None:
    other = sorted(set(STACKS) - {k8s.DEFAULT_STACK})[0]
    assert main(["k8s", "--stack", other, "--image", "registry.example/servebench:1", "--stdout"]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    check_manifests(documents, get_stack(other))
    (server,) = documents[0]["spec"]["template"]["spec"]["containers"]
    assert server["image"] == "registry.example/servebench:1"
