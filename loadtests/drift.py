"""Drift of a soak run: robust slopes of memory and tail latency over time, and a verdict.

The slope is Theil-Sen's (the median of the slopes between every pair of windows): one
stalled window, or one garbage-collection spike, moves it little, whereas a least-squares
line would follow it. Every threshold lives in THRESHOLDS and is written into the results.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from servebench.results.soak_schema import (
    DEGRADING_TAIL,
    GROWING_MEMORY,
    INCONCLUSIVE,
    STABLE,
    TAIL_NOT_JUDGED,
)


@dataclass(frozen=True)
class Thresholds:
    # Windows at the start of the measured phase left out of the fits (allocator pools,
    # caches and connection pools filling up after the warm-up).
    skip_windows: int = 1
    min_windows: int = 3  # fewer fitted windows: "inconclusive"
    # A trend counts only if its fitted rise over the span stands out of the windows' own
    # scatter: rise >= noise_ratio x the median absolute residual. This adapts to the soak's
    # length and to how noisy the machine was, where a share-of-RSS rule would miss a steady
    # leak in a short soak and flag allocator jitter in a small tree.
    noise_ratio: float = 3.0
    # "growing memory": the fitted RSS rises at least this fast (and stands out of the noise).
    rss_mb_per_min: float = 1.0
    # "degrading tail": the fitted p99 rises by at least this share of its fitted start
    # over the fitted span, and by at least this many milliseconds (sub-millisecond p99s
    # on a shared machine move by more than 50 % for no reason).
    p99_rise_percent: float = 50.0
    p99_rise_ms: float = 1.0
    # A window whose achieved rate is below this share of the target means the stack (or the
    # client) could not hold the pace: reported as a flag, the fits still run.
    rate_short_percent: float = 90.0

    def as_dict(self) -> dict[str, float]:
        return {name: float(value) for name, value in asdict(self).items()}


THRESHOLDS = Thresholds()



@dataclass(frozen=True)
class Fit:
    """y ~ intercept + slope * (x - x0): x in seconds, x0 the first fitted point's x."""

    slope: float  # units of y per second
    intercept: float  # fitted y at x0
    x0: float
    span_s: float  # last fitted x - x0
    n: int
    noise: float  # median absolute residual around the fitted line

    def at(self, x: float) -> float:
        return self.intercept + self.slope * (x - self.x0)

    @property
    def rise(self) -> float:
        """Fitted change of y over the fitted span."""
        return self.slope * self.span_s


def theil_sen(x: Sequence[float], y: Sequence[float]) -> Fit:
    """The median pairwise slope; the intercept is the median residual at x0."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError("a fit needs at least two points of (x, y)")
    slopes = [(y[j] - y[i]) / (x[j] - x[i])
              for i in range(len(x)) for j in range(i + 1, len(x)) if x[j] != x[i]]
    if not slopes:
        raise ValueError("every point has the same x")
    slope = statistics.median(slopes)
    x0 = min(x)
    intercept = statistics.median(yi - slope * (xi - x0) for xi, yi in zip(x, y, strict=True))
    noise = statistics.median(abs(yi - intercept - slope * (xi - x0)) for xi, yi in zip(x, y, strict=True))
    return Fit(slope=slope, intercept=intercept, x0=x0, span_s=max(x) - x0, n=len(x), noise=noise)


def verdict(rss: Fit | None, p99: Fit | None, t: Thresholds = THRESHOLDS,
            tail_judged: bool = True) -> tuple[str, list[str]]:
    """The verdict and the reasons behind it, in words that quote the thresholds.

    `tail_judged=False` when other processes competed for the server's CPUs during the fitted
    windows: the p99 then follows the scheduler, not the stack, and is reported but not judged.
    RSS does not depend on who else runs, so memory is judged either way."""
    if rss is None or p99 is None or rss.n < t.min_windows:
        return INCONCLUSIVE, [f"fewer than {t.min_windows} windows to fit"]
    found, reasons = [], []
    rss_mb_min = rss.slope * 60
    rss_text = (f"RSS {rss_mb_min:+.2f} MB/min (threshold {t.rss_mb_per_min:g}), "
                f"{rss.rise:+.1f} MB over the fit vs noise {rss.noise:.2f} MB")
    if rss_mb_min >= t.rss_mb_per_min and rss.rise >= t.noise_ratio * rss.noise:
        found.append(GROWING_MEMORY)
        reasons.append(rss_text)
    p99_percent = 100 * p99.rise / p99.intercept if p99.intercept > 0 else 0.0
    p99_text = (f"p99 {p99.rise:+.2f} ms ({p99_percent:+.0f} %, thresholds {t.p99_rise_percent:g} % "
                f"and {t.p99_rise_ms:g} ms) over the fit vs noise {p99.noise:.2f} ms")
    degrading = (p99_percent >= t.p99_rise_percent and p99.rise >= t.p99_rise_ms
                 and p99.rise >= t.noise_ratio * p99.noise)
    if not tail_judged:
        reasons.append(f"{p99_text}: not judged, other processes used the server's CPUs")
    elif degrading:
        found.append(DEGRADING_TAIL)
        reasons.append(p99_text)
    suffix = "" if tail_judged else TAIL_NOT_JUDGED
    if not found:
        below = f"below thresholds (trends must exceed {t.noise_ratio:g} x noise)"
        return STABLE + suffix, [f"{rss_text}: {below}" if not tail_judged else
                                 f"{rss_text}; {p99_text}: {below}", *reasons]
    return " + ".join(found) + suffix, reasons
