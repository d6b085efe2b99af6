"""Overload past the generator's outstanding cap, on synthetic columns: due requests that waited
for a connection or were never sent count against the stack, and a growing queue is found
whether it shows in latency or only in the outstanding count."""

from __future__ import annotations

import random

import numpy as np

from loadtests.arrivals import Segment, offsets
from loadtests.capacity import SweepSettings, overload
from loadtests.capacity_search import SearchSettings
from loadtests.generators import GeneratorSettings
from loadtests.openloop import NOT_SENT, OpenLoopSettings, Rows, window
from servebench.results.capacity import Overload, Step

OL = OpenLoopSettings(GeneratorSettings(None), slo_ms=50.0, max_outstanding=50, timeout_s=1.0)
SWEEP = SweepSettings(OL, SearchSettings(), warmup_s=0.5, overload_s=3.0, recovery_s=4.0)
CAPACITY = 100.0  # the simulated server answers one request per 10 ms


def fifo(arrivals: list[float], service_s: float, cap: int, timeout_s: float) -> Rows:
    """A one-at-a-time server behind a generator holding at most `cap` requests outstanding:
    a request waits, in order, for a free connection; after `timeout_s` it is given up."""
    server_free, sent_done = 0.0, []
    intended, latency, outcome, capped = [], [], [], []
    last_send = 0.0
    for t in arrivals:
        send = max(t, last_send, sent_done[-cap] if len(sent_done) >= cap else 0.0)
        intended.append(t)
        capped.append(send > t)
        if send - t > timeout_s:
            latency.append(timeout_s * 1e6)
            outcome.append(NOT_SENT)
            continue
        last_send = send
        server_free = max(send, server_free) + service_s
        sent_done.append(server_free)
        latency.append((server_free - t) * 1e6)
        outcome.append("")
    n = len(intended)
    lat = np.asarray(latency)
    return Rows(np.asarray(intended), np.full(n, 100.0), lat, np.where(np.asarray(outcome) == "", lat, 0.0),
                np.asarray(outcome, dtype=object), np.asarray(capped))


def overload_step(rows: Rows, factor: float) -> tuple[Step, Rows]:
    segments = [Segment("warmup", 0.5 * CAPACITY, SWEEP.warmup_s),
                Segment("overload", factor * CAPACITY, SWEEP.overload_s),
                Segment("recovery", 0.5 * CAPACITY, SWEEP.recovery_s)]
    windows, start = [], 0.0
    for segment in segments:
        inside = (rows.intended_s >= start) & (rows.intended_s < start + segment.duration_s)
        windows.append(window(rows.take(inside), segment, start, OL, [], rows))
        start += segment.duration_s
    step = Step(step_id="overload", arrival="constant", windows=windows, measured="overload",
                verdict="fail", flags=[], resources=None, generator_commands=[], raw_dir="")
    return step, rows


def arrivals(factor: float) -> list[float]:
    rng = random.Random(0)
    warm = offsets("constant", 0.5 * CAPACITY, SWEEP.warmup_s, rng)
    hot = [SWEEP.warmup_s + t for t in offsets("constant", factor * CAPACITY, SWEEP.overload_s, rng)]
    cool = [SWEEP.warmup_s + SWEEP.overload_s + t
            for t in offsets("constant", 0.5 * CAPACITY, SWEEP.recovery_s, rng)]
    return warm + hot + cool


def simulated(factor: float, cap: int = 50, timeout_s: float = 1.0) -> Overload:
    step, rows = overload_step(fifo(arrivals(factor), 1 / CAPACITY, cap, timeout_s), factor)
    return overload(step, rows, factor, SWEEP)


def test_requests_held_back_by_the_cap_count_against_the_stack() -> None:
    result = simulated(2.0)
    hot = result.step.windows[1]
    assert hot.attempts == 600  # every due request is in the window, sent or not
    assert result.saturated and hot.capped > 0 and hot.never_sent > 0
    assert hot.errors[NOT_SENT] == hot.never_sent == hot.attempts - hot.sent
    assert hot.error_rate == hot.never_sent / hot.attempts
    assert hot.goodput_rps < CAPACITY  # never-sent and late answers are not goodput
    # Their wait is latency: the due requests' p99 is at least the give-up time.
    assert hot.due_latency is not None and hot.due_latency.percentiles_ms["p99"] >= 1000
    assert hot.second_half_p99_ms is not None and hot.second_half_p99_ms >= 1000
    assert result.queue_grows


def test_a_queue_growing_behind_the_cap_is_found_from_the_outstanding_count() -> None:
    # A timeout longer than the overload: nothing is given up within it, latency grows too.
    result = simulated(2.0, cap=50, timeout_s=30.0)
    hot = result.step.windows[1]
    assert hot.never_sent == 0 and hot.capped > 0
    assert "outstanding" in result.growth_by and result.outstanding_growth is not None
    assert result.outstanding_growth > 1.5
    assert hot.outstanding["q4_mean"] > hot.outstanding["q2_mean"] > 50  # past the cap: waiting
    assert result.recovery_s is None or result.recovery_s > 0


def test_outstanding_growth_alone_marks_a_growing_queue() -> None:
    # The latency signal cannot fire (a stall made the first half's p99 as bad as the second's),
    # yet the outstanding count keeps growing: the queue is still found.
    rows = fifo(arrivals(2.0), 1 / CAPACITY, 50, 30.0)
    first_hot = np.flatnonzero(rows.intended_s >= SWEEP.warmup_s)[:30]
    rows.latency_us[first_hot] = 3.5e6
    result = overload(*overload_step(rows, 2.0), 2.0, SWEEP)
    assert "latency" not in result.growth_by and result.growth_by == ["outstanding"]
    assert result.queue_grows


def test_a_stable_or_shedding_stack_does_not_grow_a_queue() -> None:
    times = arrivals(1.0)
    n = len(times)
    slow = Rows(np.asarray(times), np.full(n, 100.0), np.full(n, 80_000.0), np.full(n, 80_000.0),
                np.full(n, "", dtype=object))  # always 80 ms: over the SLO, but bounded
    result = overload(*overload_step(slow, 1.0), 1.0, SWEEP)
    assert not result.queue_grows and not result.saturated
    shed = np.asarray(["status_503" if i % 2 else "" for i in range(n)], dtype=object)
    fast = Rows(np.asarray(times), np.full(n, 100.0), np.full(n, 1_000.0), np.full(n, 1_000.0), shed)
    result = overload(*overload_step(fast, 1.0), 1.0, SWEEP)
    assert not result.queue_grows and result.errors == {"status_503": result.step.windows[1].attempts // 2}


def test_records_written_before_the_cap_accounting_still_load() -> None:
    hot = simulated(1.0).step.windows[1]
    old = hot.model_dump(mode="json")
    for name in ("due_latency", "capped", "never_sent", "outstanding"):
        old.pop(name)
    loaded = type(hot).model_validate(old)
    assert loaded.capped == 0 and loaded.outstanding == {} and not loaded.saturated
