"""Plots as inline SVG strings (matplotlib, text kept as text so the page stays small and crisp)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: reports are rendered offline and in CI
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogFormatter, NullLocator

from servebench.report.fmt import users as users_text
from servebench.report.stats import Cell
from servebench.report.view import RunView
from servebench.results import declarations
from servebench.results.histogram import decode
from servebench.results.soak_schema import FitResult, SoakRecord, SoakWindow
from servebench.results.summary import Spread

PALETTE = declarations.PALETTE  # other lines (processes of a soak) take the stacks' colours too
# Any: matplotlib types rc keys as a closed set of literals, which a plain dict cannot carry.
STYLE: Any = {"svg.fonttype": "none", "svg.hashsalt": "servebench", "font.size": 9,
         "axes.grid": True,
         "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False}


def _columns(points: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """x and y of (x, y) points, as two lists (what scatter and plot take)."""
    return [x for x, _ in points], [y for _, y in points]


def colour(view: RunView, stack: str) -> str:
    """The colour the run recorded for the stack: it keeps it from run to run."""
    declared = view.loaded.run.stacks_declared.get(stack)
    return declared.colour if declared else "#000"


def svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inlined


def _figure(columns: int = 1, width: float = 4.0) -> tuple[Figure, list[Axes]]:
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(1, columns, figsize=(width * columns, 2.9), squeeze=False,
                                    layout="constrained")
    return figure, list(axes[0])


def _users_axis(axes: Axes, users: Sequence[int]) -> None:
    axes.set_xscale("log", base=2)
    axes.xaxis.set_major_locator(FixedLocator(list(users)))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axes.set_xlabel("concurrent users")


def _log_y(axes: Axes) -> None:
    """Log latency axis labelled with plain numbers (10, 20, 50), not powers of ten."""
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(LogFormatter())
    axes.yaxis.set_minor_formatter(LogFormatter(minor_thresholds=(2, 0.5)))


def _series(view: RunView, axes: Axes, workload: str, value: Callable[[Cell], Spread | None],
            label: bool = True) -> bool:
    """Median per level with min-max error bars; doubtful points ringed in black."""
    drew = False
    for stack in view.measured_stacks:
        points = [(c, s) for c in view.stack_cells(stack, workload) if (s := value(c)) is not None]
        if not points:
            continue
        xs = [c.users for c, _ in points]
        ys = [s.median for _, s in points]
        errors = [[s.median - s.low for _, s in points], [s.high - s.median for _, s in points]]
        axes.errorbar(xs, ys, yerr=errors, marker="o", markersize=4, capsize=3, color=colour(view, stack),
                      label=stack if label else None)
        doubtful = [(c.users, s.median) for c, s in points if c.flags]
        if doubtful:
            axes.scatter(*_columns(doubtful), s=70, facecolors="none", edgecolors="black",
                         linewidths=1, zorder=5)
        drew = True
    return drew


def latency_vs_users(view: RunView, workload: str) -> str:
    figure, (p50, p99) = _figure(2)
    for axes, name, attribute in ((p50, "p50", "p50_ms"), (p99, "p99", "p99_ms")):
        _series(view, axes, workload, attrgetter(attribute), label=axes is p50)
        _users_axis(axes, view.users)
        _log_y(axes)
        axes.set_ylabel(f"{name} latency (ms)")
        axes.set_title(f"{name} vs concurrency")
    return svg(figure)


def throughput_vs_users(view: RunView, workload: str) -> str:
    figure, (axes,) = _figure()
    _series(view, axes, workload, lambda c: c.rps)
    _users_axis(axes, view.users)
    axes.set_ylabel("answered requests / s")
    axes.set_ylim(bottom=0)
    axes.set_title("throughput vs concurrency")
    return svg(figure)


def latency_vs_throughput(view: RunView, workload: str) -> str:
    figure, (axes,) = _figure()
    for stack in view.measured_stacks:
        points = [c for c in view.stack_cells(stack, workload) if c.rps and c.p99_ms]
        if not points:
            continue
        xs = [c.rps.median for c in points if c.rps]
        ys = [c.p99_ms.median for c in points if c.p99_ms]
        axes.plot(xs, ys, marker="o", markersize=4, color=colour(view, stack), label=stack)
        for c, x, y in zip(points, xs, ys, strict=True):
            axes.annotate(f"{c.users}u", (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    _log_y(axes)
    axes.set_xlabel("answered requests / s (median)")
    axes.set_ylabel("p99 latency (ms, median)")
    axes.set_title("p99 latency vs throughput")
    return svg(figure)


PERCENTILE_POINTS = (0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99)


def percentile_curve(cell: Cell) -> list[tuple[float, float]]:
    """(percentile, ms) from the repeats' measured histograms merged: every request counts once."""
    merged = decode("")
    for record in cell.records:
        merged.add(decode(record.measured.latency.histogram))
    if merged.get_total_count() == 0:
        return []
    return [(p, merged.get_value_at_percentile(p) / 1000) for p in PERCENTILE_POINTS]


def latency_distribution(view: RunView, workload: str, users: int) -> str:
    figure, (axes,) = _figure()
    for stack in view.measured_stacks:
        found = view.cell(stack, workload, users)
        curve = percentile_curve(found) if found else []
        if curve:
            axes.plot([1 / (1 - p / 100) for p, _ in curve], [ms for _, ms in curve], marker=".",
                      color=colour(view, stack), label=stack)
    axes.set_xscale("log")
    _log_y(axes)
    ticks = [2, 10, 100, 1000, 10000]
    axes.xaxis.set_major_locator(FixedLocator(ticks))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"p{100 - 100 / v:g}"))
    axes.set_xlabel("percentile")
    axes.set_ylabel("latency (ms)")
    axes.set_title(f"latency by percentile at {users_text(users)}")
    return svg(figure)


def batching_stacks(view: RunView, workload: str) -> list[str]:
    """Stacks whose server reported time spent in a batching queue."""
    return [s for s in view.measured_stacks
            if any(r.server_metrics and r.server_metrics.queue_wait_seconds.count > 0
                   for c in view.stack_cells(s, workload) for r in c.records)]


def batching(view: RunView, workload: str) -> str | None:
    stacks = batching_stacks(view, workload)
    if not stacks:
        return None
    figure, (size, wait) = _figure(2)
    for stack in stacks:
        cells = view.stack_cells(stack, workload)
        for axes, attribute in ((size, "batch_size"), (wait, "queue_wait_ms")):
            points = [(c.users, s) for c in cells if (s := getattr(c, attribute)) is not None]
            if points:
                spread = [[s.median - s.low for _, s in points], [s.high - s.median for _, s in points]]
                axes.errorbar([u for u, _ in points], [s.median for _, s in points], yerr=spread,
                              marker="o", markersize=4, capsize=3, color=colour(view, stack),
                              label=stack if axes is size else None)
    for axes, label in ((size, "rows per model call (mean)"), (wait, "queue wait (ms, mean)")):
        _users_axis(axes, view.users)
        axes.set_ylabel(label)
        axes.set_ylim(bottom=0)
    size.set_title("server-side batch size")
    wait.set_title("server-side queue wait")
    return svg(figure)


# Soak runs: one stack's windows against time.

def _soak_windows(record: SoakRecord) -> list[SoakWindow]:
    """The full windows, in time order: partial ones (the phase's tail end) are never fitted
    and hold too few answers to read a trend from."""
    return [w for w in record.windows if not w.partial]


def _minutes(record: SoakRecord, epoch: float) -> float:
    origin = record.opened_at if record.opened_at is not None else record.windows[0].start
    return (epoch - origin) / 60


def _time_axis(axes: Axes) -> None:
    axes.set_xlabel("minutes into the soak (window mid-points)")
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _fit_line(axes: Axes, record: SoakRecord, fit: FitResult, unit_per_min: str) -> None:
    """The fitted Theil-Sen line over the fitted span, dashed, and that span shaded."""
    start, end = _minutes(record, fit.t0), _minutes(record, fit.t0 + fit.span_s)
    axes.axvspan(start, end, color="#000", alpha=0.04, lw=0)
    steps = [fit.span_s * k / 20 for k in range(21)]  # a straight line stays one on a log axis too
    axes.plot([_minutes(record, fit.t0 + t) for t in steps],
              [fit.intercept + fit.slope_per_s * t for t in steps], ls="--", color="#000", lw=1,
              label=f"fit {fit.slope_per_s * 60:+.2f} {unit_per_min}")


def _legend(figure: Figure) -> None:
    """Beside the axes, so that no line is hidden behind it."""
    figure.legend(fontsize=7, loc="outside right upper", frameon=False)


def soak_memory(record: SoakRecord, colour: str) -> str | None:
    """RSS over time: the tree's total, each process, and the total unique memory (USS)."""
    windows = [w for w in _soak_windows(record) if w.server_rss_mb is not None]
    if not windows:
        return None
    figure, (axes,) = _figure(width=5.2)
    xs = [_minutes(record, (w.start + w.end) / 2) for w in windows]
    pids = sorted({pid for w in windows for pid in w.processes}, key=int)
    axes.plot(xs, [w.server_rss_mb or 0.0 for w in windows], marker="o", markersize=3, lw=1.8, color=colour,
              label=f"RSS, all {len(pids)}" if len(pids) > 1 else "RSS")
    uss = [(x, w.server_uss_mb) for x, w in zip(xs, windows, strict=True) if w.server_uss_mb is not None]
    if uss:
        axes.plot(*zip(*uss, strict=True), ls=":", lw=1.5, color=colour,
                  label="USS, all" if len(pids) > 1 else "USS")
    if len(pids) > 1:
        others = [c for c in PALETTE if c != colour]
        for n, pid in enumerate(pids):
            points = [(x, w.processes[pid].rss_mb) for x, w in zip(xs, windows, strict=True)
                      if pid in w.processes]
            axes.plot(*zip(*points, strict=True), lw=0.9, marker=".", markersize=2,
                      color=others[n % len(others)], label=f"pid {pid}")
    if record.drift:
        _fit_line(axes, record, record.drift.rss, "MB/min")
    _time_axis(axes)
    axes.set_ylabel("MB")
    axes.set_ylim(bottom=0)
    axes.set_title("memory of the server's processes")
    _legend(figure)
    return svg(figure)


def soak_latency(record: SoakRecord, colour: str, contention_percent: float) -> str | None:
    """p50 and p99 of each window's answers; windows where other load took the server's CPUs ringed."""
    windows = [w for w in _soak_windows(record) if "p99" in w.latency.percentiles_ms]
    if not windows:
        return None
    figure, (axes,) = _figure(width=5.2)
    xs = [_minutes(record, (w.start + w.end) / 2) for w in windows]
    styles: tuple[tuple[str, dict[str, Any]], ...] = (("p99", {"color": colour, "lw": 1.8}),
                                                      ("p50", {"color": "#7f7f7f", "lw": 1.2}))
    for name, style in styles:
        axes.plot(xs, [w.latency.percentiles_ms[name] for w in windows], marker="o", markersize=3,
                  label=name, **style)
    busy = [(x, w.latency.percentiles_ms["p99"]) for x, w in zip(xs, windows, strict=True)
            if w.server_cpus_busy_percent is not None and w.server_cpu_percent is not None
            and w.server_cpus_busy_percent - w.server_cpu_percent > contention_percent]
    if busy:
        axes.scatter(*_columns(busy), s=70, facecolors="none", edgecolors="black", linewidths=1,
                     zorder=5, label="server CPUs shared")
    if record.drift:
        _fit_line(axes, record, record.drift.p99, "ms/min")
    _time_axis(axes)
    _log_y(axes)
    axes.set_ylabel("latency (ms)")
    axes.set_title("latency per window")
    _legend(figure)
    return svg(figure)
