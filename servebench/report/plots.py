"""Plots as inline SVG strings (matplotlib, text kept as text so the page stays small and crisp)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")  # no display: reports are rendered offline and in CI
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogFormatter, NullLocator

from loadtests.recording import decode
from servebench.report.fmt import users as users_text
from servebench.report.stats import Cell
from servebench.report.view import RunView
from servebench.results.summary import Spread
from servers.registry import STACKS

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22")
STYLE = {"svg.fonttype": "none", "svg.hashsalt": "servebench", "font.size": 9, "axes.grid": True,
         "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False}


def colour(view: RunView, stack: str) -> str:
    """A stack keeps its colour from run to run: its place in the registry, else in the run."""
    order = list(STACKS) + [s for s in view.stacks if s not in STACKS]
    return PALETTE[order.index(stack) % len(PALETTE)] if stack in order else "#000"


def svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inlined


def _figure(columns: int = 1) -> tuple[Figure, list[Axes]]:
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(1, columns, figsize=(4.0 * columns, 2.9), squeeze=False,
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
            axes.scatter(*zip(*doubtful, strict=True), s=70, facecolors="none", edgecolors="black",
                         linewidths=1, zorder=5)
        drew = True
    return drew




def latency_vs_users(view: RunView, workload: str) -> str:
    figure, (p50, p99) = _figure(2)
    for axes, name, attribute in ((p50, "p50", "p50_ms"), (p99, "p99", "p99_ms")):
        _series(view, axes, workload, lambda c, a=attribute: getattr(c, a), label=axes is p50)
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
