"""Compare a base commit's latency with the working tree's, both measured in the same run.

Three statistics per stack, each a change of head against base with a bootstrap interval:
- `p50`, `p99`: the prediction's latency divided by the same process's `/health` latency.
  Pairing cancels what a process's luck (memory layout, hash seeds, the moment's host state)
  does to both endpoints: a fresh server process's prediction p50 differs from the next one's
  by 5-10 %, its ratio by about 1.5 % (measured on a 2-core host).
- `health_p50`: the `/health` latency itself. A change that slows every request alike (a
  middleware, the server) moves both endpoints and would barely move the ratio, or even lower
  it; this statistic catches it. Base and head are interleaved process by process, so the
  host's drift hits both sides alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from loadtests.gate.sampler import Rounds

Metric = Literal["p50", "p99", "health_p50"]
METRICS: tuple[Metric, ...] = ("p50", "p99", "health_p50")
QUANTILE: dict[Metric, float] = {"p50": 0.50, "p99": 0.99, "health_p50": 0.50}
# A change smaller than this is not called a regression even when it is significant.
DEFAULT_TOLERANCE: dict[Metric, float] = {"p50": 0.10, "p99": 0.30, "health_p50": 0.10}
# The statistics whose inconclusive verdict makes the check unable to conclude (exit 2). The
# others gate only when their regression is clear: a p99 rests on a few hundred samples per
# process, and health_p50 is an absolute latency, whose spread between fresh processes (271-434
# µs on one 2-core machine) left its interval wider than 10 % even with 24 processes a side,
# where the pairing of the p50 ratio cancels that spread.
GATING: tuple[Metric, ...] = ("p50",)

Verdict = Literal["REGRESSION", "improved", "ok", "inconclusive"]


@dataclass(frozen=True)
class Comparison:
    stack: str
    metric: Metric
    effect: float  # relative change of head against base
    low: float  # 95 % bootstrap interval of the effect
    high: float
    tolerance: float
    base_value: float  # the statistic, geometric mean over the side's processes
    head_value: float
    base_noise: float  # the worst /health p99 over p50 of the side's processes: 1-2 when quiet
    head_noise: float

    @property
    def verdict(self) -> Verdict:
        """REGRESSION only when the whole interval lies above the tolerance; inconclusive when
        the interval still admits a change beyond it (a disturbed host widens the interval:
        it can hide a regression, never invent one)."""
        if self.low > self.tolerance:
            return "REGRESSION"
        if self.high > self.tolerance:
            return "inconclusive"
        if self.high < -self.tolerance:
            return "improved"
        return "ok"

    def line(self) -> str:
        unit = "us" if self.metric == "health_p50" else "x its /health"
        return (
            f"{self.stack} {self.metric} {self.effect:+.0%} [{self.low:+.0%}, {self.high:+.0%}] "
            f"head vs base ({self.head_value:.2f} vs {self.base_value:.2f} {unit}, tolerance "
            f"{self.tolerance:.0%}, host noise {self.head_noise:.1f} vs {self.base_noise:.1f}): "
            f"{self.verdict}"
        )


class _Paired:
    """Rounds as a (rounds, samples) array per endpoint, for fast resampling."""

    def __init__(self, rounds: Rounds) -> None:
        self.predict = np.asarray(rounds.predict_us, dtype=float)
        self.health = np.asarray(rounds.health_us, dtype=float)
        if self.predict.ndim != 2 or self.predict.shape != self.health.shape:
            raise ValueError("rounds must be equally long lists of paired samples")

    def tail_noise(self) -> float:
        return float(np.quantile(self.health, 0.99) / np.quantile(self.health, 0.5))

    def statistic(self, metric: Metric, pick: np.ndarray | None = None) -> float:
        """Pooled over the picked rounds (all by default)."""
        predict = self.predict if pick is None else self.predict[pick]
        health = self.health if pick is None else self.health[pick]
        q = QUANTILE[metric]
        if metric == "health_p50":
            return float(np.quantile(health, q))
        return float(np.quantile(predict, q) / np.quantile(health, q))


def statistic(rounds: Rounds, metric: Metric) -> float:
    return _Paired(rounds).statistic(metric)


def host_noise(rounds: Rounds) -> float:
    """/health p99 over its p50 in one process: 1-2 on a quiet host."""
    return _Paired(rounds).tail_noise()


def _across_runs(runs: Sequence[_Paired], metric: Metric, rng: np.random.Generator | None = None) -> float:
    """Geometric mean of each process's statistic; with `rng`, a two-level bootstrap draw:
    processes with replacement, then rounds with replacement inside each drawn process."""
    if rng is None:
        logs = [np.log(run.statistic(metric)) for run in runs]
    else:
        drawn = [runs[i] for i in rng.integers(0, len(runs), len(runs))]
        logs = [np.log(run.statistic(metric, rng.integers(0, len(run.predict), len(run.predict))))
                for run in drawn]
    return float(np.exp(np.mean(logs)))


def compare(
    stack: str,
    base_runs: Sequence[Rounds],
    head_runs: Sequence[Rounds],
    metric: Metric,
    tolerance: float | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Effect size with a 95 % percentile-bootstrap interval.

    Both levels of variation are resampled: whole processes (one differs from the next by a
    few percent for reasons unrelated to the code) and whole rounds inside a process (a
    round's samples share its moment's machine state, so they are not independent).
    """
    rng = np.random.default_rng(seed)
    base = [_Paired(run) for run in base_runs]
    head = [_Paired(run) for run in head_runs]
    base_point, head_point = _across_runs(base, metric), _across_runs(head, metric)
    effects = np.array([
        _across_runs(head, metric, rng) / _across_runs(base, metric, rng) - 1
        for _ in range(resamples)
    ])
    low, high = np.quantile(effects, [0.025, 0.975])
    return Comparison(
        stack=stack,
        metric=metric,
        effect=head_point / base_point - 1,
        low=float(low),
        high=float(high),
        tolerance=DEFAULT_TOLERANCE[metric] if tolerance is None else tolerance,
        base_value=base_point,
        head_value=head_point,
        base_noise=max(run.tail_noise() for run in base),
        head_noise=max(run.tail_noise() for run in head),
    )
