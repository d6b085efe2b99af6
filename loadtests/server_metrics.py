"""The contract's Prometheus metrics, as deltas between two scrapes of `/metrics`."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from servebench.results.schema import HistogramDelta, ServerMetrics

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> str | None:
    """The server's metrics text; None if it cannot answer (the caller records why)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return str(answer.read().decode())
    except OSError:
        return None


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _delta(before: Samples, after: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value - before.get((sample, labels), 0.0)
            for (sample, labels), value in after.items() if sample == name}


def _histogram(before: Samples, after: Samples, name: str) -> HistogramDelta:
    count = sum(_delta(before, after, f"{name}_count").values())
    total = sum(_delta(before, after, f"{name}_sum").values())
    buckets: dict[str, float] = {}
    for labels, value in _delta(before, after, f"{name}_bucket").items():
        le = dict(labels)["le"]
        buckets[le] = buckets.get(le, 0.0) + value
    return HistogramDelta(count=count, sum=total, buckets=buckets)


def _mean(histogram: HistogramDelta, scale: float = 1.0) -> float | None:
    return histogram.sum / histogram.count * scale if histogram.count else None


def delta(before_text: str, after_text: str) -> ServerMetrics:
    before, after = parse(before_text), parse(after_text)

    def keyed(name: str, first: str, second: str) -> dict[str, float]:
        return {f"{dict(labels).get(first)}/{dict(labels).get(second)}": value
                for labels, value in _delta(before, after, name).items()}

    inference = _histogram(before, after, "ml_inference_duration_seconds")
    batch = _histogram(before, after, "ml_batch_size")
    queue = _histogram(before, after, "ml_queue_wait_seconds")
    return ServerMetrics(
        predictions=keyed("ml_predictions_total", "endpoint", "outcome"),
        errors=keyed("ml_errors_total", "endpoint", "error"),
        inference_seconds=inference, batch_size=batch, queue_wait_seconds=queue,
        mean_inference_ms=_mean(inference, 1000), mean_batch_size=_mean(batch),
        mean_queue_wait_ms=_mean(queue, 1000),
    )


def success_rows(metrics: ServerMetrics) -> float:
    return sum(v for k, v in metrics.predictions.items() if k.endswith("/success"))
