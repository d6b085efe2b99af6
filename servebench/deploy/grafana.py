"""Grafana provisioning: the Prometheus datasource and one dashboard over the contract's metrics."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from servebench.deploy.prometheus_config import STACK_LABEL
from servebench.deploy.yamltext import dump
from servers.metrics import CONTRACT_METRICS

DATASOURCE_UID = "servebench-prometheus"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
DASHBOARD_UID = "servebench-stacks"
DASHBOARDS_DIR = "/etc/grafana/dashboards"  # where compose mounts the dashboard files
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

_SEL = f'{{{STACK_LABEL}=~"$stack"}}'
_BY = f"sum by ({STACK_LABEL})"
_RATE = "[$__rate_interval]"


def _quantile(q: float, metric: str) -> str:
    return f"histogram_quantile({q}, sum by ({STACK_LABEL}, le) (rate({metric}_bucket{_SEL}{_RATE})))"


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    queries: tuple[tuple[str, str], ...]  # (legend, PromQL)
    description: str = ""


PANELS: tuple[Panel, ...] = (
    Panel(
        "Predicted rows/s",
        "reqps",
        (("{{stack}}", f"{_BY} (rate(ml_predictions_total{_SEL}{_RATE}))"),),
        "Rows answered per second; for single predictions this equals requests/s.",
    ),
    Panel(
        "Model calls/s",
        "reqps",
        (("{{stack}}", f"{_BY} (rate(ml_inference_duration_seconds_count{_SEL}{_RATE}))"),),
        "One call may answer many rows when a stack batches.",
    ),
    Panel(
        "Inference time p50 / p99",
        "s",
        (
            ("p50 {{stack}}", _quantile(0.5, "ml_inference_duration_seconds")),
            ("p99 {{stack}}", _quantile(0.99, "ml_inference_duration_seconds")),
        ),
        "Wall time of one model call, from the inference histogram.",
    ),
    Panel(
        "Error rate",
        "percentunit",
        (
            (
                "{{stack}}",
                f'{_BY} (rate(ml_predictions_total{{{STACK_LABEL}=~"$stack",outcome="error"}}{_RATE}))'
                f" / {_BY} (rate(ml_predictions_total{_SEL}{_RATE}))",
            ),
        ),
        "Share of predicted rows whose answer was an error.",
    ),
    Panel(
        "Error answers/s by code",
        "reqps",
        (
            (
                "{{stack}} {{error}}",
                f"sum by ({STACK_LABEL}, error) (rate(ml_errors_total{_SEL}{_RATE}))",
            ),
        ),
    ),
    Panel(
        "Rows per model call (mean, p99)",
        "short",
        (
            (
                "mean {{stack}}",
                f"{_BY} (rate(ml_batch_size_sum{_SEL}{_RATE}))"
                f" / {_BY} (rate(ml_batch_size_count{_SEL}{_RATE}))",
            ),
            ("p99 {{stack}}", _quantile(0.99, "ml_batch_size")),
        ),
        "Above 1 only where requests are coalesced or sent as a batch.",
    ),
    Panel(
        "Batching queue wait p50 / p99",
        "s",
        (
            ("p50 {{stack}}", _quantile(0.5, "ml_queue_wait_seconds")),
            ("p99 {{stack}}", _quantile(0.99, "ml_queue_wait_seconds")),
        ),
        "Only stacks with a batching queue observe it.",
    ),
)


def contract_series() -> frozenset[str]:
    """Every series name the contract exposes: counters as named, histograms with suffixes."""
    names: set[str] = set()
    for metric in CONTRACT_METRICS:
        if metric.endswith("_total"):
            names.add(metric)
        else:
            names.update(metric + suffix for suffix in HISTOGRAM_SUFFIXES)
    return frozenset(names)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (the project's metrics all start with ml_)."""
    return set(re.findall(r"\bml_[a-z0-9_]+", expr))


def _panel_json(index: int, panel: Panel) -> dict[str, Any]:
    width = 12
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": width, "x": (index % 2) * width, "y": (index // 2) * 8},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + n), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for n, (legend, expr) in enumerate(panel.queries)
        ],
    }


def dashboard() -> dict[str, Any]:
    unknown = {name for p in PANELS for _, e in p.queries for name in metric_names(e)} - contract_series()
    if unknown:
        raise ValueError(f"dashboard queries name metrics the contract does not expose: {sorted(unknown)}")
    stacks = f"label_values(ml_predictions_total, {STACK_LABEL})"
    return {
        "uid": DASHBOARD_UID,
        "title": "servebench: stacks",
        "tags": ["servebench"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "10s",
        "time": {"from": "now-15m", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "stack",
                    "label": "stack",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": {"query": stacks, "refId": "stack"},
                    "definition": stacks,
                    "refresh": 2,
                    "multi": True,
                    "includeAll": True,
                    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                }
            ]
        },
        "panels": [_panel_json(i, p) for i, p in enumerate(PANELS)],
    }


def render_dashboard() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def render_datasource(prometheus_url: str, header: str = "") -> str:
    config = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "type": "prometheus",
                "uid": DATASOURCE_UID,
                "access": "proxy",
                "url": prometheus_url,
                "isDefault": True,
                "editable": False,
            }
        ],
    }
    return header + dump(config)


def render_dashboard_provider(header: str = "") -> str:
    config = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "servebench",
                "type": "file",
                "folder": "servebench",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "options": {"path": DASHBOARDS_DIR},
            }
        ],
    }
    return header + dump(config)
