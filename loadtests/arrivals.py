"""Open-loop arrival schedules: when each request is *meant* to leave, fixed before sending.

A schedule is a list of offsets (seconds from the start of the step). Requests leave at these
times whether or not earlier ones have been answered, and latency is measured from them, so a
slow server cannot slow the client down and hide its queue (coordinated omission).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Arrival = Literal["constant", "poisson"]
ARRIVALS: tuple[Arrival, ...] = ("constant", "poisson")


@dataclass(frozen=True)
class Segment:
    """A stretch of the schedule at one offered rate (requests per second, all processes)."""

    name: str
    rate: float
    duration_s: float


def offsets(arrival: Arrival, rate: float, duration_s: float, rng: random.Random,
            share: int = 1, index: int = 0) -> list[float]:
    """Send times in [0, duration_s) for process `index` of `share` processes.

    Constant: evenly spaced at 1/rate overall; process i takes every share-th slot, so the
    processes together keep the spacing. Poisson: exponential gaps at rate/share per process;
    independent Poisson streams add up to one Poisson stream at the full rate.
    """
    if rate <= 0 or duration_s <= 0:
        return []
    if arrival == "constant":
        gap = 1.0 / rate
        count = int(duration_s * rate - 1e-9) + 1
        return [slot * gap for slot in range(index, count, share)]
    times: list[float] = []
    at = rng.expovariate(rate / share)
    while at < duration_s:
        times.append(at)
        at += rng.expovariate(rate / share)
    return times


def schedule(arrival: Arrival, segments: Sequence[Segment], seed: str, share: int = 1,
             index: int = 0) -> list[tuple[float, int]]:
    """(offset from the start, segment index) for the segments laid end to end."""
    rng = random.Random(f"{seed}-{index}")
    out: list[tuple[float, int]] = []
    start = 0.0
    for number, segment in enumerate(segments):
        out.extend((start + t, number) for t in offsets(arrival, segment.rate, segment.duration_s,
                                                         rng, share, index))
        start += segment.duration_s
    return out
