"""Prometheus scrape configuration: one job per stack, each series labelled with its stack."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from servebench.deploy.container import dns_name
from servebench.deploy.yamltext import dump
from servers.registry import STACKS, Stack

# The label every dashboard query groups and filters by.
STACK_LABEL = "stack"


@dataclass(frozen=True)
class ScrapeTarget:
    stack: Stack
    address: str  # host:port as Prometheus reaches it

    @property
    def metrics_path(self) -> str:
        return self.stack.paths["metrics"]


def render(targets: Iterable[ScrapeTarget], scrape_interval: str = "5s", header: str = "") -> str:
    jobs = [
        {
            "job_name": target.stack.name,
            "metrics_path": target.metrics_path,
            "static_configs": [
                {"targets": [target.address], "labels": {STACK_LABEL: target.stack.name}}
            ],
        }
        for target in targets
    ]
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": jobs,
    }
    return header + dump(config)


def compose_targets(port: int) -> list[ScrapeTarget]:
    """Every registered stack, reached by its compose service name on the container port."""
    return [ScrapeTarget(stack, f"{dns_name(stack)}:{port}") for stack in STACKS.values()]
