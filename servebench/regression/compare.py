"""Compare paired-latency ratios with a baseline: bootstrap intervals and verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from servebench.regression.sampler import Rounds

Metric = Literal["p50", "p99"]
QUANTILE: dict[Metric, float] = {"p50": 0.50, "p99": 0.99}
# A change smaller than this is not called a regression even when it is significant:
# the reference cancels machine speed, not every second-order effect of a shared host.
DEFAULT_TOLERANCE: dict[Metric, float] = {"p50": 0.10, "p99": 0.30}

# A trivial endpoint's p99 over its own p50: its tail can only come from the machine
# (preemption, other processes on the server's core). Delays the host adds to both
# endpoints compress their ratio towards 1. A disturbed candidate therefore hides
# regressions (its "ok" becomes inconclusive) and a disturbed baseline invents them (every
# verdict against it is inconclusive).
TAIL_NOISE_LIMIT: dict[Metric, float] = {"p50": 6.0, "p99": 3.0}

Verdict = Literal["REGRESSION", "improved", "ok", "inconclusive"]


@dataclass(frozen=True)
class Comparison:
    stack: str
    metric: Metric
    effect: float  # relative change of the predict/health ratio vs baseline
    low: float
    high: float
    tolerance: float
    baseline_ratio: float
    candidate_ratio: float
    baseline_noise: float  # /health p99/p50 of the baseline
    candidate_noise: float  # /health p99/p50 of the candidate

    @property
    def verdict(self) -> Verdict:
        limit = TAIL_NOISE_LIMIT[self.metric]
        if self.baseline_noise > limit:
            return "inconclusive"
        if self.low > self.tolerance:
            return "REGRESSION"  # a busy candidate host only hides slowdowns
        if self.candidate_noise > limit:
            return "inconclusive"
        if self.high < -self.tolerance:
            return "improved"
        return "ok"

    def line(self) -> str:
        return (
            f"{self.stack} {self.metric} {self.effect:+.0%} [{self.low:+.0%}, {self.high:+.0%}] "
            f"vs baseline (ratio to its /health {self.candidate_ratio:.2f} vs "
            f"{self.baseline_ratio:.2f}, tolerance {self.tolerance:.0%}, host noise "
            f"{self.candidate_noise:.1f} vs {self.baseline_noise:.1f}): {self.verdict}"
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

    def ratio(self, metric: Metric, pick: np.ndarray | None = None) -> float:
        """Quantile of predict latency over quantile of health latency, pooled over rounds."""
        predict = self.predict if pick is None else self.predict[pick]
        health = self.health if pick is None else self.health[pick]
        q = QUANTILE[metric]
        return float(np.quantile(predict, q) / np.quantile(health, q))


def ratio(rounds: Rounds, metric: Metric) -> float:
    return _Paired(rounds).ratio(metric)


def host_noise(rounds: Rounds) -> float:
    """/health p99 over its p50 in one run: 1-2 on a quiet host."""
    return _Paired(rounds).tail_noise()


def _across_runs(runs: list[_Paired], metric: Metric, rng: np.random.Generator | None = None) -> float:
    """Geometric mean of each run's ratio; with `rng`, a two-level bootstrap draw: runs
    with replacement, then rounds with replacement inside each drawn run."""
    if rng is None:
        logs = [np.log(run.ratio(metric)) for run in runs]
    else:
        drawn = [runs[i] for i in rng.integers(0, len(runs), len(runs))]
        logs = [np.log(run.ratio(metric, rng.integers(0, len(run.predict), len(run.predict))))
                for run in drawn]
    return float(np.exp(np.mean(logs)))


def compare(
    stack: str,
    baseline_runs: list[Rounds],
    candidate_runs: list[Rounds],
    metric: Metric,
    tolerance: float | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Effect size with a 95% percentile-bootstrap interval.

    Both levels of variation are resampled: whole runs (each run is a fresh server process,
    and a process's own speed differs by several percent from the next one's: memory layout,
    hash seeds) and whole rounds inside a run (a round's samples share its moment's machine
    state, so they are not independent).
    """
    rng = np.random.default_rng(seed)
    base = [_Paired(run) for run in baseline_runs]
    cand = [_Paired(run) for run in candidate_runs]
    base_point, cand_point = _across_runs(base, metric), _across_runs(cand, metric)
    effects = np.array([
        _across_runs(cand, metric, rng) / _across_runs(base, metric, rng) - 1
        for _ in range(resamples)
    ])
    low, high = np.quantile(effects, [0.025, 0.975])
    return Comparison(
        stack=stack,
        metric=metric,
        effect=cand_point / base_point - 1,
        low=float(low),
        high=float(high),
        tolerance=DEFAULT_TOLERANCE[metric] if tolerance is None else tolerance,
        baseline_ratio=base_point,
        candidate_ratio=cand_point,
        baseline_noise=max(run.tail_noise() for run in base),
        candidate_noise=max(run.tail_noise() for run in cand),
    )
