"""A soak run's page as data: per stack its drift, verdict and whether its tail was judged.

Everything comes from the soak directory (soak.json and its records), thresholds included:
the page quotes the thresholds the soak was judged with, not this reader's defaults.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from servebench.report import plots
from servebench.report.fmt import Shown, percent
from servebench.report.model import failed_verification, model_sections
from servebench.results.schema import SCHEMA_VERSION
from servebench.results.soak_schema import (
    DEGRADING_TAIL,
    GROWING_MEMORY,
    INCONCLUSIVE,
    TAIL_NOT_JUDGED,
    SoakRecord,
    SoakWindow,
)
from servebench.results.store import LoadedSoak


def verdict_class(verdict: str) -> str:
    """The CSS class of a verdict: drifting, stable, inconclusive or failed."""
    if GROWING_MEMORY in verdict or DEGRADING_TAIL in verdict:
        return "drifting"
    if verdict.startswith("stable"):
        return "stable"
    return "failed" if verdict == "failed" else "inconclusive"


def _signed(value: float | None, digits: int, below: str = "") -> Shown:
    if value is None:
        return Shown("–", "", None)
    return Shown(f"{value:+,.{digits}f}", below, value)


def _arrow(start: float | None, end: float | None, digits: int) -> str:
    if start is None or end is None:
        return ""
    return f"{start:,.{digits}f} → {end:,.{digits}f}"


def fitted_windows(record: SoakRecord) -> list[SoakWindow]:
    wanted = set(record.drift.rss.windows) if record.drift else set()
    return [w for w in record.windows if w.index in wanted]


def other_load(window: SoakWindow) -> float | None:
    """Percent of a core other processes used on the server's CPUs in the window."""
    busy, own = window.server_cpus_busy_percent, window.server_cpu_percent
    return None if busy is None or own is None else busy - own


def tail_judgement(record: SoakRecord, contention: float) -> tuple[str, str]:
    """('yes' | 'no' | '–', why), as the soak decided it and with the windows that decided it."""
    if record.status != "ok":
        return "–", "the stack failed"
    if record.drift is None or record.verdict.startswith(INCONCLUSIVE):
        return "no", (record.reasons[0] if record.reasons else "too few windows to fit")
    fitted = fitted_windows(record)
    others = [x for w in fitted if (x := other_load(w)) is not None]
    if record.verdict.endswith(TAIL_NOT_JUDGED):
        busy = [x for x in others if x > contention]
        return "no", (f"other processes used over {contention:g} % of a core on the server's "
                      f"CPUs in {len(busy)} of {len(fitted)} fitted windows "
                      f"(up to {max(busy, default=0):.0f} %)")
    if not others:
        return "yes", "the server's CPUs were not pinned, so other load on them was not measured"
    return "yes", (f"other processes stayed under {contention:g} % of a core on the server's "
                   f"CPUs in all {len(fitted)} fitted windows (at most {max(others):.0f} %)")


@dataclass(frozen=True)
class DriftRow:
    stack: str
    title: str
    status: str
    reason: str | None
    rps: Shown  # achieved over the measured phase
    target: str
    rss: str  # fitted start → end
    rss_mb_per_min: Shown
    rss_kb_per_request: Shown
    uss_mb_per_min: Shown
    p99: str  # fitted start → end
    p99_ms_per_min: Shown
    errors: Shown
    windows: str  # fitted of all
    verdict: str
    verdict_class: str
    reasons: list[str]
    tail_judged: str
    tail_why: str
    flags: list[str]


def drift_row(record: SoakRecord, contention: float) -> DriftRow:
    d = record.drift
    failures = sum(record.failures.values())
    rate = failures / record.requests if record.requests else None
    judged, why = tail_judgement(record, contention)
    target = (f"target {record.target_rps:,.0f}" + (" (given)" if record.target_from == "given" else
                                                    f" of {record.capacity_rps:,.0f} probed"
                                                    if record.capacity_rps else "")
              if record.target_rps else "")
    return DriftRow(
        stack=record.stack, title=record.title, status=record.status, reason=record.reason,
        rps=Shown(f"{record.rps:,.0f}" if record.rps is not None else "–", target, record.rps),
        target=target,
        rss=_arrow(d.rss_start_mb, d.rss_end_mb, 1) if d else "",
        rss_mb_per_min=_signed(d.rss_mb_per_min if d else None, 2,
                               f"{_arrow(d.rss_start_mb, d.rss_end_mb, 1)} MB" if d else ""),
        rss_kb_per_request=_signed(d.rss_kb_per_request if d else None, 3),
        uss_mb_per_min=_signed(d.uss_mb_per_min if d else None, 2),
        p99=_arrow(d.p99_start_ms, d.p99_end_ms, 1) if d else "",
        p99_ms_per_min=_signed(d.p99_ms_per_min if d else None, 2,
                               f"{_arrow(d.p99_start_ms, d.p99_end_ms, 1)} ms" if d else ""),
        errors=Shown(percent(rate), f"{failures:,}/{record.requests:,}" if record.requests else "", rate),
        windows=f"{len(d.rss.windows) if d else 0} of {len(record.windows)}",
        verdict=record.verdict, verdict_class=verdict_class(record.verdict), reasons=record.reasons,
        tail_judged=judged, tail_why=why, flags=record.flags,
    )


def _get(thresholds: dict[str, float], name: str) -> str:
    return f"{thresholds[name]:g}" if name in thresholds else "?"


def threshold_rules(thresholds: dict[str, float], contention: float) -> list[tuple[str, str]]:
    """(verdict, rule) in words, from the thresholds stored with the soak."""
    def t(name: str) -> str:
        return _get(thresholds, name)

    return [
        ("fits", f"Theil-Sen (median of pairwise slopes) over the full windows after the first "
                 f"{t('skip_windows')}; partial windows at the phase's end are never fitted"),
        ("growing memory", f"the fitted RSS rises at least {t('rss_mb_per_min')} MB/min"),
        ("degrading tail", f"the fitted p99 rises over the fitted span by at least "
                           f"{t('p99_rise_percent')} % of its fitted start and by at least "
                           f"{t('p99_rise_ms')} ms"),
        ("noise", f"either trend counts only if its fitted rise over the span is at least "
                  f"{t('noise_ratio')} × the windows' median absolute residual around the fit"),
        ("stable", "neither trend found"),
        ("inconclusive", f"fewer than {t('min_windows')} fitted windows"),
        ("tail not judged", f"other processes used over {contention:g} % of a core on the "
                            "server's CPUs in a fitted window: the p99 trend is shown but not judged; "
                            "memory is judged either way"),
        ("below_target", f"the achieved rate stayed under {t('rate_short_percent')} % of the target"),
    ]


@dataclass(frozen=True)
class ProcessRow:
    pid: str
    command: str
    rss_mb: str  # mean in the first → last window it was seen in
    uss_mb: str  # last reading
    cpu_percent: str  # mean over the windows


def short_command(cmdline: str) -> str:
    """The command line without the interpreter's path: `python -m gunicorn ...`."""
    head, _, rest = cmdline.partition(" ")
    name = head.rsplit("/", 1)[-1]
    return f"{name} {rest}".strip() if name.startswith("python") else cmdline


def process_rows(record: SoakRecord) -> list[ProcessRow]:
    commands = {str(p.pid): short_command(p.cmdline) for p in record.processes}
    pids = sorted({pid for w in record.windows for pid in w.processes} | set(commands), key=int)
    rows = []
    for pid in pids:
        seen = [w.processes[pid] for w in record.windows if pid in w.processes and not w.partial]
        uss = [p.uss_mb for p in seen if p.uss_mb is not None]
        cpu = [p.cpu_percent for p in seen if p.cpu_percent is not None]
        rows.append(ProcessRow(
            pid=pid, command=commands.get(pid, "?"),
            rss_mb=_arrow(seen[0].rss_mb, seen[-1].rss_mb, 1) if seen else "–",
            uss_mb=f"{uss[-1]:,.1f}" if uss else "–",
            cpu_percent=f"{statistics.fmean(cpu):.0f} %" if cpu else "–",
        ))
    return rows


def headline(loaded: LoadedSoak) -> str:
    """One line for the index: the soak's length and its stacks grouped by verdict."""
    run = loaded.run
    s = run.settings
    load = f"{s.rps:g} req/s" if s.rps else f"{s.fraction * 100:g} % of capacity" if s.fraction else "?"
    groups: dict[str, list[str]] = {}
    for record in loaded.records:
        groups.setdefault(record.verdict, []).append(record.stack)
    verdicts = "; ".join(f"{verdict}: {', '.join(stacks)}" for verdict, stacks in groups.items())
    return f"{s.duration_s:g} s soak at {load}: " + (verdicts or "no stack finished")


@dataclass(frozen=True)
class StackSection:
    row: DriftRow
    record: SoakRecord
    processes: list[ProcessRow]
    memory_plot: str | None
    latency_plot: str | None


def soak_context(loaded: LoadedSoak) -> dict[str, Any]:
    """Everything soak.html shows."""
    run = loaded.run
    contention = run.judging.contention_percent
    sections = []
    for record in loaded.records:
        colour = run.stacks_declared[record.stack].colour if record.stack in run.stacks_declared else "#000"
        sections.append(StackSection(
            row=drift_row(record, contention), record=record, processes=process_rows(record),
            memory_plot=plots.soak_memory(record, colour),
            latency_plot=plots.soak_latency(record, colour, contention),
        ))
    done = {r.stack for r in loaded.records}
    flags = sorted({flag for r in loaded.records for flag in r.flags})
    return {
        "run": run,
        "settings": run.settings,
        "headline": headline(loaded),
        "rows": [s.row for s in sections],
        "sections": sections,
        "rules": threshold_rules(run.settings.thresholds, contention),
        "flags": {flag: run.judging.flags[flag].meaning if flag in run.judging.flags else ""
                  for flag in flags},
        "failed": [r for r in loaded.records if r.status != "ok"],
        "unreached": [s for s in run.settings.stacks if s not in done],
        "reader_schema": SCHEMA_VERSION,
        "models": model_sections(run),
        "not_verified": failed_verification(list(loaded.records)),
    }
