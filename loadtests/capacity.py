"""Capacity of one stack: start it, verify it, search the highest offered rate within the SLO,
then overload it at multiples of that rate and watch it recover. Never names a stack."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from loadtests.arrivals import Segment
from loadtests.capacity_search import Outcome, SearchResult, SearchSettings, search
from loadtests.generators import Generator
from loadtests.openloop import OpenLoopSettings, Rows, recovery_s, run_step
from loadtests.session import External, ModelUnderTest, Session, run_session
from servebench.results.capacity import CapacityRecord, Overload, Step, Window
from servers.registry import Stack

GROWTH_RATIO = 1.5  # second-half p99 over first-half p99 above this (and over the SLO): queue grows
# Mean outstanding requests over the overload's last quarter above GROWTH_RATIO x its second
# quarter, and above what the SLO allows at the offered rate (Little's law: rate x SLO), also
# marks a growing queue: it still grows when the cap keeps requests from being sent.
RECOVERY_RATE = 0.5  # offered rate before and after an overload, as a fraction of capacity


@dataclass(frozen=True)
class SweepSettings:
    openloop: OpenLoopSettings
    search: SearchSettings
    warmup_s: float = 0.5
    step_s: float = 2.5
    overload_factors: tuple[float, ...] = (1.5, 2.0)
    overload_s: float = 3.0
    recovery_s: float = 4.0
    invalid_retries: int = 1


@dataclass(frozen=True)
class Target:
    """One stack as it will run: knobs applied, CPUs chosen, model profile."""

    stack: Stack
    model: str
    workers: int | None
    server_cpus: tuple[int, ...] | None
    load_cpus: tuple[int, ...] | None

    @property
    def record_id(self) -> str:
        return f"{self.stack.name}__{self.model}" + (f"__w{self.workers}" if self.workers else "")


def overload(step: Step, rows: Rows, factor: float, settings: SweepSettings) -> Overload:
    windows = {w.name: w for w in step.windows}
    hot, after = windows["overload"], windows["recovery"]
    recovery_start = settings.warmup_s + settings.overload_s
    recovery_rows = rows.take(rows.intended_s >= recovery_start)
    first, second = hot.first_half_p99_ms, hot.second_half_p99_ms
    growth_by = []
    if (first is not None and second is not None and second > GROWTH_RATIO * first
            and second > settings.openloop.slo_ms):
        growth_by.append("latency")
    growth = outstanding_growth(hot)
    allowed = hot.offered_rps * settings.openloop.slo_ms / 1000  # in flight at the SLO's latency
    if growth is not None and growth > GROWTH_RATIO and hot.outstanding["q4_mean"] > allowed:
        growth_by.append("outstanding")
    return Overload(
        factor=factor, step=step, goodput_rps=hot.goodput_rps, errors=hot.errors,
        first_half_p99_ms=first, second_half_p99_ms=second, queue_grows=bool(growth_by),
        growth_by=growth_by,
        recovery_s=recovery_s(recovery_rows, recovery_start, after.duration_s, settings.openloop),
        valid=hot.generator.valid, capped=hot.capped + after.capped,
        never_sent=hot.never_sent + after.never_sent, outstanding_growth=growth,
    )


def outstanding_growth(hot: Window) -> float | None:
    """Mean outstanding over the last quarter / over the second quarter of the window."""
    q2, q4 = hot.outstanding.get("q2_mean"), hot.outstanding.get("q4_mean")
    if q2 is None or q4 is None:
        return None
    return q4 / max(q2, 1.0)


def _limit(steps: Sequence[Step], capacity: float | None, limited_by: str, max_error_rate: float) -> str:
    """Was the first failing rate above capacity over its error budget or its latency SLO?"""
    if limited_by != "slo":
        return limited_by
    failed = [s for s in steps if s.verdict == "fail" and (capacity is None
              or next(w for w in s.windows if w.name == s.measured).offered_rps > capacity)]
    if not failed:
        return limited_by
    lowest = min(failed, key=lambda s: next(w for w in s.windows if w.name == s.measured).offered_rps)
    measured = next(w for w in lowest.windows if w.name == lowest.measured)
    return "errors" if measured.error_rate > max_error_rate else "slo"


def sweep(target: Target, model: ModelUnderTest, generator: Generator, settings: SweepSettings,
          run_root: Path, progress: Callable[[str], None] = lambda _: None,
          external: External | None = None) -> CapacityRecord:
    rid = target.record_id
    log = run_root / "logs" / f"{rid}.log"
    raw = run_root / generator.name / rid
    steps: list[Step] = []
    overloads: list[Overload] = []
    found: list[SearchResult] = []
    # The generator runs on this target's load CPUs (they depend on the server's worker count).
    ol = replace(settings.openloop, generator=replace(settings.openloop.generator,
                                                      load_cpus=target.load_cpus))

    def measure(session: Session) -> None:
        def probe(rate: float) -> Outcome:
            # A step the generator could not drive is tried once more: on a shared machine a burst
            # of other work can starve it briefly. Both attempts stay in the curve.
            for _ in range(1 + settings.invalid_retries):
                progress(f"{rid}: {rate:g} req/s")
                segments = [Segment("warmup", rate, settings.warmup_s),
                            Segment("measured", rate, settings.step_s)]
                step_id = f"{len(steps) + 1:02d}-{rate:g}rps"
                step, _ = run_step(session, generator, ol, segments, "measured", step_id, run_root,
                                   raw / step_id)
                steps.append(step)
                if not session.server.alive():
                    raise session.server.failed(f"died during {step_id}")
                if step.verdict != "invalid":
                    break
            return steps[-1].verdict

        found.append(search(probe, settings.search))
        capacity = found[0].capacity_rps
        for factor in settings.overload_factors if capacity else ():
            assert capacity is not None
            progress(f"{rid}: overload {factor:g}x")
            segments = [Segment("warmup", RECOVERY_RATE * capacity, settings.warmup_s),
                        Segment("overload", factor * capacity, settings.overload_s),
                        Segment("recovery", RECOVERY_RATE * capacity, settings.recovery_s)]
            step_id = f"overload-{factor:g}x"
            step, rows = run_step(session, generator, ol, segments, "overload", step_id, run_root,
                                  raw / step_id)
            overloads.append(overload(step, rows, factor, settings))

    ended = run_session(target.stack, model, target.server_cpus, log, measure, external=external)
    capacity = found[0].capacity_rps if found else None
    best = next((s for s in steps if s.verdict == "pass"
                 and next(w for w in s.windows if w.name == s.measured).offered_rps == capacity), None)
    best_latency = next(w for w in best.windows if w.name == best.measured).latency if best else None
    limited_by = "failed" if ended.failed else _limit(steps, capacity, found[0].limited_by if found
                                                       else "failed", ol.max_error_rate)
    return CapacityRecord(
        **ended.launch(), record_id=rid, model=target.model, model_sha256=model.fingerprint,
        workers=target.workers,
        server_cpus=list(target.server_cpus) if target.server_cpus else None,
        load_cpus=list(target.load_cpus) if target.load_cpus else None,
        shared_cpus=bool(set(target.server_cpus or ()) & set(target.load_cpus or ()))
        or not (target.server_cpus and target.load_cpus),
        slo_ms=ol.slo_ms, max_error_rate=ol.max_error_rate,
        steps=steps, capacity_rps=capacity, capacity_step=best.step_id if best else None,
        capacity_p50_ms=best_latency.percentiles_ms.get("p50") if best_latency else None,
        capacity_p99_ms=best_latency.percentiles_ms.get("p99") if best_latency else None,
        limited_by=limited_by, overload=overloads, log=str(log.relative_to(run_root)),
    )
