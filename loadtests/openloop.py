"""One open-loop step: offered rates laid end to end, sent by Locust, judged from raw columns.

A step is a list of segments (e.g. warm-up then measured). Every request's latency runs from
its intended send time; the generator's own lag, achieved rate and CPU decide whether the step
measured the server at all (invalid otherwise). A request due while the outstanding cap was
reached waited for a connection (counted against the stack, like any queue) or, after the
timeout, was given up as `not_sent`: a failure, with the time it waited as its latency.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadtests import payloads, sampling
from loadtests.arrivals import Arrival, Segment
from loadtests.generators import Generator, GeneratorSettings
from loadtests.measure import contention_flags, latency, resources
from loadtests.plans import OpenColumns, OpenOutput, OpenPlan, PlannedSegment
from loadtests.session import MeasurementFailed, Session
from loadtests.workloads import WORKLOADS
from servebench.results.capacity import GeneratorCheck, Step, Verdict, Window
from servebench.results.declarations import GENERATOR_BOUND_PERCENT
from servebench.results.histogram import new_histogram
from servebench.results.schema import Resources
from servers.process import ExternalServer

NOT_SENT = "not_sent"
BUCKET_S = 0.1  # recovery is judged on windows of this length


SEND_LAG_SHARE = 0.2  # of the SLO: 10 ms of a 50 ms SLO


@dataclass(frozen=True)
class OpenLoopSettings:
    generator: GeneratorSettings
    workload: str = "single"
    arrival: Arrival = "poisson"
    slo_ms: float = 50.0
    max_error_rate: float = 0.01
    max_outstanding: int = 1000
    timeout_s: float = 10.0
    # p99 of (actual - intended send time) above this: invalid. None: a share of the SLO, the
    # error in the measured latency that still lets a step be judged against it (the SLO is
    # the user's requirement; nothing here encodes a machine's speed).
    max_send_lag_ms: float | None = None
    min_achieved: float = 0.95  # achieved / scheduled rate below this: invalid

    @property
    def send_lag_limit_ms(self) -> float:
        return self.max_send_lag_ms if self.max_send_lag_ms is not None else SEND_LAG_SHARE * self.slo_ms


@dataclass
class Rows:
    """Per-request columns of one window, as numpy arrays. `lag_us`: the generator's own lag
    (schedule loop behind the intended time); `capped`: the request waited for a connection
    because the outstanding cap was reached; `latency_us`: from the intended time until
    answered, failed or given up."""

    intended_s: np.ndarray
    lag_us: np.ndarray
    latency_us: np.ndarray
    service_us: np.ndarray
    outcome: np.ndarray
    capped: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.capped is None:
            self.capped = np.zeros(len(self.intended_s), dtype=bool)

    @classmethod
    def merge(cls, processes: Sequence[OpenColumns]) -> tuple[Rows, np.ndarray]:
        def column(name: str, dtype: Any) -> np.ndarray:
            return np.concatenate([np.asarray(getattr(p, name), dtype=dtype) for p in processes]) \
                if processes else np.asarray([], dtype=dtype)
        rows = cls(column("intended_s", float), column("lag_us", float), column("latency_us", float),
                   column("service_us", float), column("outcome", object), column("capped", bool))
        return rows, column("segment", int)

    def take(self, mask: np.ndarray) -> Rows:
        assert self.capped is not None
        return Rows(self.intended_s[mask], self.lag_us[mask], self.latency_us[mask],
                    self.service_us[mask], self.outcome[mask], self.capped[mask])

    def outstanding(self, times: np.ndarray) -> np.ndarray:
        """Requests due but not yet finished (in flight or waiting for a connection) at `times`."""
        starts = np.sort(self.intended_s)
        ends = np.sort(self.intended_s + self.latency_us / 1e6)
        return (np.searchsorted(starts, times, side="right")
                - np.searchsorted(ends, times, side="right")).astype(float)


def _hist_latency(values_us: np.ndarray) -> Any:
    histogram = new_histogram()
    for value in values_us:
        histogram.record_value(max(1, int(value)))
    return latency(histogram)


def _p99_ms(values_us: np.ndarray) -> float | None:
    return float(np.percentile(values_us, 99, method="higher")) / 1000 if len(values_us) else None


OUTSTANDING_POINTS = 200  # samples of the outstanding count per window


def outstanding_summary(step_rows: Rows, start_s: float, duration_s: float) -> dict[str, float]:
    """Mean outstanding requests over the second and the last quarter of a window, and the
    peak: a queue without bound keeps growing even when the cap stops requests being sent."""
    if not len(step_rows.intended_s) or duration_s <= 0:
        return {}
    times = start_s + (np.arange(OUTSTANDING_POINTS) + 0.5) * duration_s / OUTSTANDING_POINTS
    counts = step_rows.outstanding(times)
    quarter = OUTSTANDING_POINTS // 4
    return {"q2_mean": float(counts[quarter:2 * quarter].mean()),
            "q4_mean": float(counts[3 * quarter:].mean()), "max": float(counts.max())}


def window(rows: Rows, segment: Segment, start_s: float, settings: OpenLoopSettings,
           problems: Sequence[str], step_rows: Rows | None = None) -> Window:
    """Judge one segment's requests (`start_s` = its start offset within the step). The
    outstanding count also needs the requests of earlier segments still open: `step_rows`."""
    ok = rows.outcome == ""
    not_sent = rows.outcome == NOT_SENT
    sent = ~not_sent
    assert rows.capped is not None
    errors = Counter(str(o) for o in rows.outcome[~ok])
    attempts = len(rows.outcome)
    middle = start_s + segment.duration_s / 2
    lag = rows.lag_us  # the schedule loop's own lag, whether or not a connection was free
    span = max(segment.duration_s, float((rows.intended_s + rows.lag_us / 1e6).max()) - start_s
               if attempts else 0.0)
    achieved = attempts / span if span > 0 else 0.0
    scheduled = attempts / segment.duration_s
    lag_ms = ({"p50": float(np.percentile(lag, 50)) / 1000, "p99": float(np.percentile(lag, 99)) / 1000,
               "max": float(lag.max()) / 1000} if len(lag) else {})
    reasons = list(problems)
    if scheduled > 0 and achieved < settings.min_achieved * scheduled:
        reasons.append("rate_short")
    if lag_ms and lag_ms["p99"] > settings.send_lag_limit_ms:
        reasons.append("send_lag")
    good = ok & (rows.latency_us <= settings.slo_ms * 1000)
    error_rate = (attempts - int(ok.sum())) / attempts if attempts else 0.0
    return Window(
        name=segment.name, offered_rps=segment.rate, duration_s=segment.duration_s,
        attempts=attempts, sent=int(sent.sum()), ok=int(ok.sum()), errors=dict(errors),
        error_rate=error_rate,
        throughput_rps=int(ok.sum()) / segment.duration_s,
        goodput_rps=int(good.sum()) / segment.duration_s,
        latency=_hist_latency(rows.latency_us[ok]),
        failed_latency=_hist_latency(rows.latency_us[~ok & sent]),
        service_latency=_hist_latency(rows.service_us[ok]),
        due_latency=_hist_latency(rows.latency_us),
        first_half_p99_ms=_p99_ms(rows.latency_us[rows.intended_s < middle]),
        second_half_p99_ms=_p99_ms(rows.latency_us[rows.intended_s >= middle]),
        capped=int(rows.capped.sum()), never_sent=int(not_sent.sum()),
        outstanding=outstanding_summary(step_rows if step_rows is not None else rows, start_s,
                                        segment.duration_s),
        generator=GeneratorCheck(target_rps=segment.rate, achieved_rps=achieved, send_lag_ms=lag_ms,
                                 valid=_valid(reasons, rows, ok, error_rate, settings),
                                 reasons=reasons),
    )


def _valid(reasons: Sequence[str], rows: Rows, ok: np.ndarray, error_rate: float,
           settings: OpenLoopSettings) -> bool:
    """Send lag only adds to latency from the intended time. It invalidates a window only when
    it can have decided the verdict: p99 from the intended time misses the SLO while p99 without
    the generator's own lag (the wait for a connection under the cap stays: it is the stack's
    queue) meets it and the error budget holds."""
    if any(reason != "send_lag" for reason in reasons):
        return False
    if not reasons:
        return True
    slo_us = settings.slo_ms * 1000
    intended, service = _p99_ms(rows.latency_us[ok]), _p99_ms((rows.latency_us - rows.lag_us)[ok])
    server_missed = service is not None and service * 1000 > slo_us
    lag_decides = (intended is not None and intended * 1000 > slo_us and not server_missed
                   and error_rate <= settings.max_error_rate)
    return not lag_decides


def verdict(measured: Window, settings: OpenLoopSettings) -> Verdict:
    if not measured.generator.valid:
        return "invalid"
    p99 = measured.latency.percentiles_ms.get("p99")
    within = p99 is not None and p99 <= settings.slo_ms
    return "pass" if within and measured.error_rate <= settings.max_error_rate else "fail"


def recovery_s(rows: Rows, start_s: float, duration_s: float, settings: OpenLoopSettings) -> float | None:
    """Seconds from `start_s` until every later BUCKET_S window meets the SLO and error budget;
    None if the last window still misses it."""
    buckets = round(duration_s / BUCKET_S)
    good_from = None
    for index in range(buckets - 1, -1, -1):
        low = start_s + index * BUCKET_S
        inside = (rows.intended_s >= low) & (rows.intended_s < low + BUCKET_S)
        if not inside.any():
            continue
        ok = inside & (rows.outcome == "")
        p99 = _p99_ms(rows.latency_us[ok])
        error_rate = 1 - ok.sum() / inside.sum()
        if p99 is None or p99 > settings.slo_ms or error_rate > settings.max_error_rate:
            break
        good_from = index
    return None if good_from is None else good_from * BUCKET_S


def _generator_problems(res: Resources | None, output: OpenOutput) -> list[str]:
    problems = []
    if res is not None and res.generator_max_process_cpu_percent > GENERATOR_BOUND_PERCENT:
        problems.append("generator_bound")
    if res is None:
        problems.append("no_resource_samples")
    if len(output.processes) < output.expected_processes:
        problems.append("processes_missing")
    if not all(p.drained for p in output.processes):
        problems.append("not_drained")
    return problems


def run_step(session: Session, generator: Generator, settings: OpenLoopSettings,
             segments: Sequence[Segment], measured: str, step_id: str, run_root: Path,
             raw_dir: Path) -> tuple[Step, Rows]:
    server = session.server
    total_s = sum(s.duration_s for s in segments)
    plan = OpenPlan(
        traffic=payloads.traffic(WORKLOADS[settings.workload], server.stack, session.model.golden,
                                 step_id),
        host=server.url, arrival=settings.arrival, processes=max(1, settings.generator.workers),
        segments=[PlannedSegment(name=s.name, rate=s.rate, duration_s=s.duration_s) for s in segments],
        max_outstanding=settings.max_outstanding, timeout_s=settings.timeout_s, startup_s=30.0,
        drain_timeout_s=2 * settings.timeout_s + 5,  # a request may wait, then take, the timeout
    )
    driven = generator.open(plan, settings.generator, raw_dir, sampling.server_source(server))
    output = driven.output
    if not isinstance(output, OpenOutput) or output.start_at is None:
        raise MeasurementFailed(f"{step_id}: load generator gave {driven.failure or 'no result'}",
                                driven.log_tail)
    start_at = output.start_at
    res = resources(driven.samples, driven.cpu_samples, start_at, start_at + total_s,
                    settings.generator.load_cpus, server.cpus, isinstance(server, ExternalServer))
    problems = _generator_problems(res, output)
    rows, segment_of = Rows.merge(output.processes)
    windows, offset = [], 0.0
    for number, segment in enumerate(segments):
        windows.append(window(rows.take(segment_of == number), segment, offset, settings, problems,
                              rows))
        offset += segment.duration_s
    judged = next(w for w in windows if w.name == measured)
    step = Step(step_id=step_id, arrival=settings.arrival, windows=windows, measured=measured,
                verdict=verdict(judged, settings), flags=contention_flags(res) if res else [],
                resources=res, generator_commands=driven.commands, raw_dir=str(raw_dir.relative_to(run_root)))
    return step, rows
