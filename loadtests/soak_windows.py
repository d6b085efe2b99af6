"""Turn a soak's windowed Locust tallies and psutil samples into per-window results and fits."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from loadtests import drift, sampling
from loadtests.measure import latency
from loadtests.plans import TallyData
from loadtests.recording import PhaseTally
from servebench.results.declarations import CONTENTION_PERCENT
from servebench.results.histogram import add, new_histogram
from servebench.results.soak_schema import INCONCLUSIVE, Drift, FitResult, ProcessWindow, SoakWindow

PARTIAL = 0.999  # a window shorter than this share of window_s is partial


def _processes(inside: Sequence[sampling.Sample]) -> dict[str, ProcessWindow]:
    pids = sorted({pid for sample in inside for pid in sample.rss})
    out = {}
    for pid in pids:
        seen = [s for s in inside if pid in s.rss]
        cpu = None
        if len(seen) >= 2 and seen[-1].at > seen[0].at:
            cpu = 100 * (seen[-1].cpu_s[pid] - seen[0].cpu_s[pid]) / (seen[-1].at - seen[0].at)
        unique = [s.uss[pid] for s in seen if s.uss and pid in s.uss]
        out[str(pid)] = ProcessWindow(rss_mb=statistics.fmean(s.rss[pid] for s in seen) / 2**20,
                                      uss_mb=statistics.fmean(unique) / 2**20 if unique else None,
                                      cpu_percent=cpu)
    return out


def build_windows(raw: dict[str, TallyData], origin: float, measure_s: float, window_s: float,
                  samples: dict[str, list[sampling.Sample]], cpu_samples: Sequence[sampling.CpuSample],
                  server_cpus: Sequence[int] | None) -> list[SoakWindow]:
    """Every window of the measured phase, empty ones included, in time order."""
    tallies = {int(index): PhaseTally.of(data) for index, data in raw.items()}
    phase_end = origin + measure_s
    last = max([*tallies, int(measure_s // window_s + 0.5) - 1])
    windows = []
    for index in range(last + 1):
        tally = tallies.get(index, PhaseTally())
        start = origin + index * window_s
        # A window from the phase's end on only holds the answers still in flight when it
        # ended: it ends with the last of them and is partial however long it is (never fitted).
        after_phase = start >= phase_end - 1e-6
        end = max(start, tally.last_end or start) if after_phase else min(start + window_s, phase_end)
        combined, failures = new_histogram(), Counter[str]()
        requests = 0
        for kind in tally.kinds.values():
            add(combined, kind.histogram)
            failures.update(kind.failures)
            requests += kind.requests
        duration = end - start
        server = [s for s in samples.get("server", []) if start <= s.at <= end]
        server_use = sampling.usage(server, start, end)
        unique = [sum(s.uss.values()) for s in server if s.uss]
        generator = sampling.usage(samples.get("generator", []), start, end)
        windows.append(SoakWindow(
            index=index, start=start, end=end, duration_s=duration,
            partial=after_phase or duration < PARTIAL * window_s, requests=requests, failures=dict(failures),
            rps=(requests - sum(failures.values())) / duration if duration > 0 else 0.0,
            latency=latency(combined),
            server_rss_mb=statistics.fmean(sum(s.rss.values()) for s in server) / 2**20 if server else None,
            server_uss_mb=statistics.fmean(unique) / 2**20 if unique else None,
            server_cpu_percent=server_use.cpu_percent if server_use else None,
            processes=_processes(server),
            generator_cpu_percent=generator.cpu_percent if generator else None,
            generator_max_process_cpu_percent=generator.max_process_cpu_percent if generator else None,
            server_cpus_busy_percent=sampling.cpus_busy(cpu_samples, server_cpus, start, end)
            if server_cpus else None,
            samples=len(server),
        ))
    return windows


def _contended(window: SoakWindow) -> bool:
    """Other processes used the server's CPUs beyond the run's contention threshold."""
    busy, own = window.server_cpus_busy_percent, window.server_cpu_percent
    return busy is not None and own is not None and busy - own > CONTENTION_PERCENT


def _fit(windows: Sequence[SoakWindow], values: Sequence[float]) -> tuple[drift.Fit, FitResult]:
    mids = [(w.start + w.end) / 2 for w in windows]
    fit = drift.theil_sen(mids, values)
    return fit, FitResult(slope_per_s=fit.slope, intercept=fit.intercept, t0=fit.x0,
                          span_s=fit.span_s, noise=fit.noise, windows=[w.index for w in windows])


def fitted(windows: Sequence[SoakWindow], t: drift.Thresholds = drift.THRESHOLDS) -> list[SoakWindow]:
    """The windows the fits use: complete, after the skipped start, with RSS and latency."""
    full = [w for w in windows if not w.partial][t.skip_windows:]
    return [w for w in full if w.server_rss_mb is not None and "p99" in w.latency.percentiles_ms]


def drift_of(windows: Sequence[SoakWindow], rps: float | None,
             t: drift.Thresholds = drift.THRESHOLDS) -> tuple[Drift | None, str, list[str]]:
    """Fits of RSS and p99 against time, and the verdict with its reasons."""
    use = fitted(windows, t)
    if len(use) < max(2, t.min_windows):
        return None, INCONCLUSIVE, [f"{len(use)} windows to fit, fewer than {t.min_windows}"]
    rss, rss_result = _fit(use, [w.server_rss_mb or 0.0 for w in use])
    p99, p99_result = _fit(use, [w.latency.percentiles_ms["p99"] for w in use])
    # Unique memory is read twice a window; a window without a reading (the sampler held up
    # on a busy machine) leaves the USS fit to the others rather than dropping it.
    with_uss = [w for w in use if w.server_uss_mb is not None]
    uss = None
    if len(with_uss) >= max(2, t.min_windows):
        uss = _fit(with_uss, [w.server_uss_mb or 0.0 for w in with_uss])
    verdict, reasons = drift.verdict(rss, p99, t, tail_judged=not any(map(_contended, use)))
    end = rss.x0 + rss.span_s
    bytes_per_s = rss.slope * 2**20
    return Drift(
        rss=rss_result, p99=p99_result, rss_start_mb=rss.at(rss.x0), rss_end_mb=rss.at(end),
        rss_mb_per_min=rss.slope * 60,
        rss_kb_per_request=bytes_per_s / rps / 1024 if rps else None,
        uss=uss[1] if uss else None, uss_mb_per_min=uss[0].slope * 60 if uss else None,
        p99_start_ms=p99.at(p99.x0), p99_end_ms=p99.at(end), p99_ms_per_min=p99.slope * 60,
    ), verdict, reasons


def window_flags(windows: Sequence[SoakWindow], target_rps: float | None, achieved_rps: float | None,
                 generator_bound_percent: float, t: drift.Thresholds = drift.THRESHOLDS) -> list[str]:
    flags = []
    if target_rps and achieved_rps is not None and achieved_rps < t.rate_short_percent / 100 * target_rps:
        flags.append("below_target")
    if any(w.failures for w in windows):
        flags.append("failures")
    if any((w.generator_max_process_cpu_percent or 0) > generator_bound_percent for w in windows):
        flags.append("generator_bound")
    if any(map(_contended, windows)):
        flags.append("server_cpu_contention")
    return flags
