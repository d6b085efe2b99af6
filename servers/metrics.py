"""The contract's Prometheus metrics: the same names on every stack.

With several worker processes, set PROMETHEUS_MULTIPROC_DIR (the launcher does) so that
`/metrics` aggregates every worker instead of showing whichever one answered.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

PREDICTIONS = Counter(
    "ml_predictions_total",
    "Rows predicted, by endpoint (single or batch) and outcome.",
    ["endpoint", "outcome"],
)
ERRORS = Counter(
    "ml_errors_total", "Error answers, by endpoint and error code.", ["endpoint", "error"]
)
INFERENCE_SECONDS = Histogram(
    "ml_inference_duration_seconds",
    "Wall time of one model call (one predict_batch).",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
BATCH_SIZE = Histogram(
    "ml_batch_size",
    "Rows per model call.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 100, 128, 256),
)
QUEUE_WAIT_SECONDS = Histogram(
    "ml_queue_wait_seconds",
    "Time a request waited in a batching queue before its model call started.",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0),
)

CONTRACT_METRICS: tuple[str, ...] = (
    "ml_predictions_total",
    "ml_errors_total",
    "ml_inference_duration_seconds",
    "ml_batch_size",
    "ml_queue_wait_seconds",
)

# Pre-create the label sets every scrape should show, even before the first request.
for _endpoint in ("single", "batch"):
    for _outcome in ("success", "error"):
        PREDICTIONS.labels(_endpoint, _outcome)


def observe_model_call(rows: int, seconds: float) -> None:
    INFERENCE_SECONDS.observe(seconds)
    BATCH_SIZE.observe(rows)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
