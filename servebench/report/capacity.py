"""A capacity run as data: table rows, verdict reasons, overload summaries and the
latency-vs-offered-rate plot; shared by the HTML page and the terminal table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matplotlib.ticker import FuncFormatter

from servebench.report import plots
from servebench.report.fmt import number, percent
from servebench.report.model import model_sections
from servebench.results.capacity import CapacityRecord, Overload, Step, Window
from servebench.results.schema import SCHEMA_VERSION
from servebench.results.store import LoadedCapacityRun

CONTENTION = ("server_cpu_contention", "load_cpu_contention")
LIMITS = {
    "slo": "a higher rate missed the p99 SLO",
    "errors": "a higher rate exceeded the error budget",
    "generator": "a step could not be driven by the generator: capacity is a lower bound",
    "max_rate": "the search reached its highest rate",
    "min_rate": "even the lowest rate failed",
    "steps": "the search ran out of steps",
    "failed": "the stack failed",
}


def measured(step: Step) -> Window:
    return next(w for w in step.windows if w.name == step.measured)


def saturation(window: Window) -> str:
    """Empty unless the generator's outstanding cap was reached."""
    if not window.saturated:
        return ""
    return f"SATURATED: {window.capped:,} waited for a connection, {window.never_sent:,} never sent"


def step_reasons(step: Step, slo_ms: float, max_error_rate: float) -> list[str]:
    """Why a step passed, failed or was invalid, in the reader's words."""
    w = measured(step)
    p99 = w.latency.percentiles_ms.get("p99")
    if step.verdict == "invalid":
        return [f"generator: {', '.join(w.generator.reasons) or 'invalid'}"]
    out = []
    if p99 is None:
        out.append("no successful answer")
    elif p99 > slo_ms:
        out.append(f"p99 {number(p99, 1)} ms > {slo_ms:g} ms")
    if w.error_rate > max_error_rate:
        mix = ", ".join(f"{k} {v:,}" for k, v in sorted(w.errors.items(), key=lambda kv: -kv[1]))
        out.append(f"errors {percent(w.error_rate)} > {percent(max_error_rate)} ({mix})")
    if (text := saturation(w)):
        out.append(text)
    if step.verdict == "pass" and not out:
        out.append(f"p99 {number(p99, 1)} ms <= {slo_ms:g} ms, errors {percent(w.error_rate)}")
    return out


def verdict_reasons(record: CapacityRecord) -> list[str]:
    """What decided the capacity: why the search stopped and what the first failure above it was."""
    if record.status == "failed":
        return [f"failed: {record.reason}"]
    out = [LIMITS.get(record.limited_by, record.limited_by)]
    above = [s for s in record.steps if s.verdict == "fail"
             and (record.capacity_rps is None or measured(s).offered_rps > record.capacity_rps)]
    if above:
        first = min(above, key=lambda s: measured(s).offered_rps)
        out.append(f"at {number(measured(first).offered_rps)} req/s: "
                   + "; ".join(step_reasons(first, record.slo_ms, record.max_error_rate)))
    invalid = [s for s in record.steps if s.verdict == "invalid"]
    if invalid:
        out.append(f"{len(invalid)} invalid step(s): "
                   + "; ".join(f"{number(measured(s).offered_rps)} req/s "
                               f"({', '.join(measured(s).generator.reasons)})" for s in invalid))
    return out


def contended(record: CapacityRecord) -> int:
    return sum(any(f in CONTENTION for f in s.flags) for s in record.steps)


def overload_text(o: Overload) -> str:
    """One overload as a line: goodput, error mix, p99 halves, queue growth, recovery."""
    mix = ", ".join(f"{k} {v:,}" for k, v in sorted(o.errors.items())) or "none"
    hot = next(w for w in o.step.windows if w.name == "overload")
    growth = f" GROWS ({', '.join(o.growth_by) or 'latency'})" if o.queue_grows else ""
    recovery = "not recovered" if o.recovery_s is None else f"recovered in {o.recovery_s:.1f} s"
    parts = [f"{o.factor:g}x: goodput {number(o.goodput_rps)} req/s",
             f"{sum(o.errors.values()):,} err ({mix})",
             f"p99 {number(o.first_half_p99_ms)}->{number(o.second_half_p99_ms)} ms{growth}", recovery]
    if o.saturated:
        parts.append(f"SATURATED: {o.capped:,} waited for a connection, {o.never_sent:,} never sent")
    if not o.valid:
        parts.append(f"invalid ({', '.join(hot.generator.reasons)})")
    return ", ".join(parts)


@dataclass(frozen=True)
class OverloadRow:
    factor: float
    goodput_rps: float
    errors: int
    mix: str
    first_p99_ms: float | None
    second_p99_ms: float | None
    queue_grows: bool
    growth_by: str
    recovery_s: float | None
    saturated: str  # empty, or "N waited for a connection, M never sent"
    valid: bool
    reasons: str


@dataclass(frozen=True)
class CapacityRow:
    record_id: str
    stack: str
    title: str
    model: str
    workers: str
    status: str
    capacity_rps: float | None
    p50_ms: float | None
    p99_ms: float | None
    slo_ms: float
    max_error_rate: float
    limited_by: str
    reasons: list[str]
    steps: int
    invalid: int
    contended: int
    shared_cpus: bool
    server_cpus: str
    load_cpus: str
    overload: list[OverloadRow]
    log_tail: str | None


def _overload_row(o: Overload) -> OverloadRow:
    hot = next(w for w in o.step.windows if w.name == "overload")
    return OverloadRow(
        factor=o.factor, goodput_rps=o.goodput_rps, errors=sum(o.errors.values()),
        mix=", ".join(f"{k} {v:,}" for k, v in sorted(o.errors.items())) or "none",
        first_p99_ms=o.first_half_p99_ms, second_p99_ms=o.second_half_p99_ms, queue_grows=o.queue_grows,
        growth_by=", ".join(o.growth_by), recovery_s=o.recovery_s,
        saturated=f"{o.capped:,} waited for a connection, {o.never_sent:,} never sent" if o.saturated else "",
        valid=o.valid, reasons=", ".join(hot.generator.reasons))


def workers(record: CapacityRecord) -> str:
    return str(record.workers or record.knobs.get("workers", "–"))


def capacity_rows(loaded: LoadedCapacityRun) -> list[CapacityRow]:
    return [CapacityRow(
        record_id=r.record_id, stack=r.stack, title=r.title, model=r.model, workers=workers(r),
        status=r.status, capacity_rps=r.capacity_rps, p50_ms=r.capacity_p50_ms, p99_ms=r.capacity_p99_ms,
        slo_ms=r.slo_ms, max_error_rate=r.max_error_rate, limited_by=r.limited_by, reasons=verdict_reasons(r),
        steps=len(r.steps), invalid=sum(s.verdict == "invalid" for s in r.steps), contended=contended(r),
        shared_cpus=r.shared_cpus, server_cpus=str(r.server_cpus or "not pinned"),
        load_cpus=str(r.load_cpus or "not pinned"), overload=[_overload_row(o) for o in r.overload],
        log_tail=r.log_tail) for r in loaded.records]


@dataclass(frozen=True)
class StepRow:
    step_id: str
    offered_rps: float
    verdict: str
    p50_ms: float | None
    p99_ms: float | None
    error_rate: float
    achieved_rps: float
    lag_p99_ms: float | None
    flags: str
    reasons: str


def step_rows(record: CapacityRecord) -> list[StepRow]:
    rows = []
    for s in [*record.steps, *(o.step for o in record.overload)]:
        w = measured(s)
        rows.append(StepRow(
            step_id=s.step_id, offered_rps=w.offered_rps, verdict=s.verdict,
            p50_ms=w.latency.percentiles_ms.get("p50"), p99_ms=w.latency.percentiles_ms.get("p99"),
            error_rate=w.error_rate, achieved_rps=w.generator.achieved_rps,
            lag_p99_ms=w.generator.send_lag_ms.get("p99"), flags=", ".join(s.flags),
            reasons="; ".join(step_reasons(s, record.slo_ms, record.max_error_rate))))
    return rows


def headline(loaded: LoadedCapacityRun) -> str:
    """One line for the index: the highest capacity and the SLO."""
    rated = [r for r in loaded.records if r.capacity_rps is not None]
    failed = [r.record_id for r in loaded.records if r.status == "failed"]
    slo = loaded.run.settings.slo_ms
    if rated:
        best = max(rated, key=lambda r: r.capacity_rps or 0.0)
        text = f"capacity: {best.record_id} serves {number(best.capacity_rps)} req/s at p99 <= {slo:g} ms"
    else:
        text = "capacity: nothing measured"
    return text + (f"; failed: {', '.join(failed)}" if failed else "")


def colour(loaded: LoadedCapacityRun, stack: str) -> str:
    declared = loaded.run.stacks_declared.get(stack)
    return declared.colour if declared else "#000"


LINESTYLES = ("-", "--", ":", "-.")


def latency_vs_rate(loaded: LoadedCapacityRun) -> str:
    """p50 and p99 (from the intended send time) per sweep step against the offered rate, per
    record; hollow markers: invalid steps (not the server's number); star: the capacity."""
    figure, (p50, p99) = plots._figure(2)
    seen: dict[str, int] = {}
    slo = loaded.run.settings.slo_ms
    for record in loaded.records:
        style = LINESTYLES[seen.get(record.stack, 0) % len(LINESTYLES)]
        seen[record.stack] = seen.get(record.stack, 0) + 1
        steps = sorted(record.steps, key=lambda s: measured(s).offered_rps)
        for axes, name in ((p50, "p50"), (p99, "p99")):
            valid = [(measured(s).offered_rps, v) for s in steps if s.verdict != "invalid"
                     and (v := measured(s).latency.percentiles_ms.get(name)) is not None]
            invalid = [(measured(s).offered_rps, v) for s in steps if s.verdict == "invalid"
                       and (v := measured(s).latency.percentiles_ms.get(name)) is not None]
            if valid:
                axes.plot(*zip(*valid, strict=True), marker="o", markersize=4, linestyle=style,
                          color=colour(loaded, record.stack), label=record.record_id if axes is p50 else None)
            if invalid:
                axes.scatter(*plots._columns(invalid), s=30, facecolors="none",
                             edgecolors=colour(loaded, record.stack), linewidths=1, zorder=4)
        if record.capacity_rps is not None and record.capacity_p99_ms is not None:
            p99.scatter([record.capacity_rps], [record.capacity_p99_ms], marker="*", s=90,
                        color=colour(loaded, record.stack), edgecolors="black", linewidths=0.6, zorder=5)
    for axes, name in ((p50, "p50"), (p99, "p99")):
        axes.axhline(slo, color="#b42318", linestyle="--", linewidth=1,
                     label=f"SLO {slo:g} ms" if axes is p99 else None)
        axes.set_xscale("log", base=2)
        axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        plots._log_y(axes)
        axes.set_xlabel("offered rate (req/s)")
        axes.set_ylabel(f"{name} latency from intended send (ms)")
        axes.set_title(f"{name} vs offered rate")
    if loaded.records:
        p50.legend(fontsize=7, loc="upper left")
        p99.legend(fontsize=7, loc="upper left")
    return plots.svg(figure, "capacity-latency-vs-rate")


def capacity_context(loaded: LoadedCapacityRun) -> dict[str, Any]:
    return {
        "run": loaded.run,
        "rows": capacity_rows(loaded),
        "steps": [(r.record_id, step_rows(r)) for r in loaded.records],
        "plot": latency_vs_rate(loaded),
        "legend": [(r.record_id, colour(loaded, r.stack)) for r in loaded.records],
        "headline": headline(loaded),
        "failed": [r for r in loaded.records if r.status == "failed"],
        "unreached": [f"{s}" for s in loaded.run.settings.stacks
                      if not any(r.stack == s for r in loaded.records)],
        "reader_schema": SCHEMA_VERSION,
        "limits": LIMITS,
        "models": model_sections(loaded.run),
        "not_verified": [],
    }
