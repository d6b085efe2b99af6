"""Search the highest offered rate a stack serves within its SLO: geometric steps up until a
step fails, then bisection (on a log scale) between the last pass and the first fail.

The search only sees verdicts, so it is tested on synthetic steps. A step the generator could
not drive ends the search: what passed so far is a lower bound, limited by the generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["pass", "fail", "invalid"]
Limit = Literal["slo", "generator", "max_rate", "min_rate", "steps"]


@dataclass(frozen=True)
class SearchSettings:
    start_rps: float = 50.0
    growth: float = 2.0  # geometric factor until the first failure
    resolution: float = 0.1  # bisection stops when high / low <= 1 + resolution
    max_rps: float = 20000.0
    min_rps: float = 5.0
    max_steps: int = 12


@dataclass
class SearchResult:
    capacity_rps: float | None  # highest rate that passed
    limited_by: Limit  # slo: a higher rate failed; others: the search stopped for that reason
    tried: list[tuple[float, Outcome]] = field(default_factory=list)
    first_fail_rps: float | None = None  # lowest rate that failed


def search(probe: Callable[[float], Outcome], settings: SearchSettings) -> SearchResult:
    result = SearchResult(None, "steps")
    low: float | None = None
    high: float | None = None

    def step(rate: float) -> Outcome:
        outcome = probe(rate)
        result.tried.append((rate, outcome))
        return outcome

    rate = min(settings.start_rps, settings.max_rps)
    while len(result.tried) < settings.max_steps:  # bracket
        outcome = step(rate)
        if outcome == "invalid":
            result.limited_by = "generator"
            break
        if outcome == "pass":
            low = rate
            if high is not None:
                break
            if rate >= settings.max_rps:
                result.limited_by = "max_rate"
                break
            rate = min(round(rate * settings.growth, 1), settings.max_rps)
        else:
            high = rate
            if low is not None:
                break
            rate = round(rate / settings.growth, 1)
            if rate < settings.min_rps:
                result.limited_by = "min_rate"
                break
    if low is not None and high is not None:
        result.limited_by = "slo"
        while high / low > 1 + settings.resolution:
            if len(result.tried) >= settings.max_steps:
                result.limited_by = "steps"
                break
            middle = round(math.sqrt(low * high), 1)
            outcome = step(middle)
            if outcome == "invalid":
                result.limited_by = "generator"
                break
            if outcome == "pass":
                low = middle
            else:
                high = middle
    result.capacity_rps = low
    result.first_fail_rps = high
    return result
