"""Latency recording at microsecond resolution, mergeable across Locust processes.

Locust's own statistics round response times below 100 ms to whole milliseconds; the
request event carries the unrounded time, which goes into an HdrHistogram here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

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
    return histogram.encode().decode("ascii")


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


@dataclass
class KindTally:
    """What one request kind did during one phase, in one process.

    Successful and failed answers are timed into separate histograms: a fast error must
    neither vanish nor flatter the latency of the answers that count.
    """

    requests: int = 0
    rows: int = 0  # rows of successful prediction requests: comparable to the server's counter
    failures: Counter[str] = field(default_factory=Counter)
    histogram: HdrHistogram = field(default_factory=new_histogram)
    failed_histogram: HdrHistogram = field(default_factory=new_histogram)

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "rows": self.rows, "failures": dict(self.failures),
                "histogram": encode(self.histogram), "failed_histogram": encode(self.failed_histogram)}

    def merge(self, data: dict[str, Any]) -> None:
        self.requests += data["requests"]
        self.rows += data["rows"]
        self.failures.update(data["failures"])
        for name in ("histogram", "failed_histogram"):
            add(getattr(self, name), decode(data[name]))


@dataclass
class PhaseTally:
    """One phase (warm-up or measured) of one measurement: per-kind tallies and its span."""

    kinds: dict[str, KindTally] = field(default_factory=dict)
    first_start: float | None = None  # epoch seconds of the first request sent
    last_end: float | None = None  # epoch seconds of the last answer received

    def record(self, kind: str, started: float, response_ms: float, rows: int,
               failure: str | None) -> None:
        tally = self.kinds.setdefault(kind, KindTally())
        tally.requests += 1
        micros = max(LOWEST_US, round(response_ms * 1000))
        if failure:
            tally.failures[failure] += 1
            tally.failed_histogram.record_value(micros)
        else:
            tally.rows += rows
            tally.histogram.record_value(micros)
        ended = started + response_ms / 1000
        self.first_start = started if self.first_start is None else min(self.first_start, started)
        self.last_end = ended if self.last_end is None else max(self.last_end, ended)

    def to_dict(self) -> dict[str, Any]:
        return {"kinds": {k: t.to_dict() for k, t in self.kinds.items()},
                "first_start": self.first_start, "last_end": self.last_end}

    def merge(self, data: dict[str, Any]) -> None:
        for kind, tally in data["kinds"].items():
            self.kinds.setdefault(kind, KindTally()).merge(tally)
        for name, pick in (("first_start", min), ("last_end", max)):
            theirs, mine = data[name], getattr(self, name)
            if theirs is not None:
                setattr(self, name, theirs if mine is None else pick(mine, theirs))
