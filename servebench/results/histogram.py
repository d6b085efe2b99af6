"""The latency histogram codec: HdrHistograms at 1 µs resolution, stored base64 in results."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 120_000_000  # two minutes: anything slower is a failure anyway
SIGNIFICANT_FIGURES = 3  # values kept within 0.1 %
RESOLUTION = "1 us unit, 3 significant figures (values within 0.1 %)"
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9),
)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def add(target: HdrHistogram, source: HdrHistogram) -> None:
    """target += source; hdrh's own add() would set target's minimum to 0 for an empty source."""
    if source.get_total_count():
        target.add(source)


def encode(histogram: HdrHistogram) -> str:
    return str(histogram.encode().decode("ascii"))


def decode(encoded: str) -> HdrHistogram:
    histogram = new_histogram()
    if encoded:
        add(histogram, HdrHistogram.decode(encoded.encode("ascii")))
    return histogram


def percentiles_ms(histogram: HdrHistogram) -> dict[str, float]:
    """p50..p99.9, min, max and mean in milliseconds; empty histograms give an empty dict."""
    if histogram.get_total_count() == 0:
        return {}
    values = {label: histogram.get_value_at_percentile(p) / 1000 for label, p in PERCENTILES}
    values["min"] = histogram.get_min_value() / 1000
    values["max"] = histogram.get_max_value() / 1000
    values["mean"] = histogram.get_mean_value() / 1000
    return values
