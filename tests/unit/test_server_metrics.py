"""Deltas of the contract's Prometheus metrics between two scrapes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from loadtests.server_metrics import delta, success_rows


def test_deltas_cover_counters_and_histograms() -> None:
    registry = CollectorRegistry()
    predictions = Counter("ml_predictions_total", "", ["endpoint", "outcome"], registry=registry)
    batch = Histogram("ml_batch_size", "", buckets=(1, 8, 64), registry=registry)
    predictions.labels("single", "success").inc(5)
    batch.observe(1)
    before = generate_latest(registry).decode()
    predictions.labels("single", "success").inc(3)
    predictions.labels("batch", "success").inc(12)
    predictions.labels("batch", "error").inc(2)
    batch.observe(1)
    batch.observe(12)
    after = generate_latest(registry).decode()
    metrics = delta(before, after)
    assert metrics.predictions == {"single/success": 3, "batch/success": 12, "batch/error": 2}
    assert success_rows(metrics) == 15
    assert metrics.batch_size.count == 2 and metrics.batch_size.sum == 13
    assert metrics.batch_size.buckets == {"1.0": 1, "8.0": 1, "64.0": 2, "+Inf": 2}
    assert metrics.mean_batch_size == 6.5
    assert metrics.inference_seconds.count == 0 and metrics.mean_inference_ms is None
