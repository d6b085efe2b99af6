"""Plots as inline SVG strings: matplotlib with text kept as text (searchable, a fraction of
the size of glyph outlines), coordinates cut to a tenth of a pixel, and every id prefixed with
the plot's own name so that many plots inlined in one page never share an id."""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: reports are rendered offline and in CI
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullLocator

from servebench.report.fmt import users as users_text
from servebench.report.stats import Cell
from servebench.report.trust import cell_support, support
from servebench.report.view import RunView
from servebench.results import declarations
from servebench.results.histogram import decode
from servebench.results.soak_schema import FitResult, SoakRecord, SoakWindow
from servebench.results.summary import Spread

PALETTE = declarations.PALETTE  # other lines (processes of a soak) take the stacks' colours too
# Any: matplotlib types rc keys as a closed set of literals, which a plain dict cannot carry.
STYLE: Any = {"svg.fonttype": "none", "svg.hashsalt": "servebench", "font.size": 9,
              "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False}
LABEL_PT = 7  # direct labels at the lines' ends
MARKERS = ("o", "s", "^", "D", "v", "*")  # one per concurrency level on a curve
SYMBOLS = {"o": "●", "s": "■", "^": "▲", "D": "◆", "v": "▼", "*": "★"}  # the same, as text


def _columns(points: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """x and y of (x, y) points, as two lists (what scatter and plot take)."""
    return [x for x, _ in points], [y for _, y in points]


def colour(view: RunView, stack: str) -> str:
    """The colour the run recorded for the stack: it keeps it from run to run."""
    declared = view.loaded.run.stacks_declared.get(stack)
    return declared.colour if declared else "#000"


_NUMBER = re.compile(r"(-?\d+\.\d)\d+")
_GEOMETRY = re.compile(r'\s(d|x|y|x1|x2|y1|y2|cx|cy|r|width|height|transform|points|viewBox)="([^"]*)"')
_ID = re.compile(r'\sid="([^"]+)"')
# A circle marker, as matplotlib writes it: eight Bezier curves from (0, r) round to (0, r).
_CIRCLE = re.compile(r'<path( id="[^"]+")? d="M 0 (-?\d+(?:\.\d)?) (?:C [^"]*)z"')
_GROUP = re.compile(r"<g(\s[^>]*)?>|</g>")


def _unwrap(text: str) -> str:
    """Drop groups without attributes (matplotlib nests every artist in one): they change nothing."""
    out: list[str] = []
    bare: list[bool] = []
    last = 0
    for match in _GROUP.finditer(text):
        out.append(text[last:match.start()])
        last = match.end()
        if match.group(0) == "</g>":
            if not bare.pop():
                out.append("</g>")
        else:
            bare.append(match.group(1) is None or not match.group(1).strip())
            if not bare[-1]:
                out.append(match.group(0))
    out.append(text[last:])
    return "".join(out)


_STYLED = re.compile(r'(?: clip-path="(url\(#[^)]+\))")? style="([^"]*)"')


def _classes(text: str, name: str) -> str:
    """Styles used more than once (every grid line, tick and marker repeats its own) become
    classes of a style sheet scoped to this plot."""
    def key(match: re.Match[str]) -> str:
        clip = f"clip-path: {match.group(1)}; " if match.group(1) else ""
        return clip + match.group(2)

    counts: dict[str, int] = {}
    for match in _STYLED.finditer(text):
        counts[key(match)] = counts.get(key(match), 0) + 1
    shared = {style: f"c{i}" for i, style in enumerate(s for s, n in counts.items() if n > 1)}
    if not shared:
        return text
    text = _STYLED.sub(lambda m: f' class="{shared[k]}"' if (k := key(m)) in shared else m.group(0), text)
    sheet = "".join(f"#{name} .{c}{{{style}}}" for style, c in shared.items())
    return text.replace("</style>", f"\n{sheet}</style>", 1)


_DEFINED = re.compile(r'<(?:path|circle) id="([^"]+)"[^>]*? class="([^"]+)"')


def _bare_uses(text: str) -> str:
    """A marker's every use repeats the class its definition already has: the definition's own
    style applies to each use, so the repetition is left out."""
    defined = dict(_DEFINED.findall(text))

    def bare(match: re.Match[str]) -> str:
        return match.group(1) if defined.get(match.group(2)) == match.group(3) else match.group(0)

    return re.sub(r'(<use xlink:href="#([^"]+)"[^>]*?) class="([^"]+)"', bare, text)


def _compact(text: str, name: str) -> str:
    """What the page does not need, left out: metadata, indentation, groups without attributes,
    zero rotations and the font list (the page's style sheet sets the font); coordinates cut to
    a tenth of a pixel; ids nobody refers to dropped, the others prefixed with the plot's name
    (matplotlib numbers its groups from 1 in every figure)."""
    def cut(match: re.Match[str]) -> str:
        short = _NUMBER.sub(lambda n: n.group(1), match.group(2))
        return f' {match.group(1)}="{short}"'

    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = text.replace("*{stroke-linejoin", f"#{name} *{{stroke-linejoin")  # this plot only, not the page
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r'\stransform="rotate\(-?0 [^)]*\)"', "", text)
    text = re.sub(r"font-family: [^;\"]*;? ?", "", text)
    text = re.sub(r'\sd="([^"]*)"', lambda m: f' d="{" ".join(m.group(1).split())}"', text)
    text = _GEOMETRY.sub(cut, text)
    ids = list(dict.fromkeys(_ID.findall(text)))
    prefix = "i" + hashlib.sha256(name.encode()).hexdigest()[:6]  # short: every marker repeats it
    short = {i: f"{prefix}{n:x}" for n, i in enumerate(i for i in ids if f"#{i}" in text)}
    text = _ID.sub(lambda m: f' id="{short[m.group(1)]}"' if m.group(1) in short else "", text)
    text = re.sub(r'#([\w.-]+)(?=[)"])', lambda m: f"#{short.get(m.group(1), m.group(1))}", text)
    text = _unwrap(re.sub(r"\n\s*", "\n", text))
    text = _CIRCLE.sub(lambda m: f'<circle{m.group(1) or ""} r="{m.group(2).lstrip("-")}"'
                       if m.group(0).count(" C ") == 8 else m.group(0), text)
    text = _classes(text, name)
    text = _bare_uses(text)
    text = text.replace("<svg ", f'<svg id="{name}" ', 1)  # the style sheet above is scoped to it
    return re.sub(r"\n+", "\n", text)


def svg(figure: Figure, name: str) -> str:
    """The figure as an inline SVG element named `name` (unique within the page)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", name)
    buffer = io.StringIO()
    with plt.rc_context({**STYLE, "svg.hashsalt": name}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return _compact(text[text.index("<svg"):], name)  # no XML prolog or doctype: the SVG is inlined


def _figure(columns: int = 1, width: float = 4.0, height: float = 2.9) -> tuple[Figure, list[Axes]]:
    """Axes laid out by matplotlib around whatever they hold (legends beside them included)."""
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(1, columns, figsize=(width * columns, height), squeeze=False,
                                    layout="constrained")
    return figure, list(axes[0])


LEFT_IN, RIGHT_IN, BOTTOM_IN, TOP_IN = 0.6, 1.3, 0.45, 0.3  # margins: the right one holds the names


def _labelled(rows: int = 1, columns: int = 1, width: float = 5.0, height: float = 2.9,
              right_in: float = RIGHT_IN) -> tuple[Figure, Any]:
    """Axes with fixed margins, room on the right for the lines' names: laying out a figure
    around its text is most of what drawing it costs, and these figures all look alike."""
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False)
    figure.subplots_adjust(left=LEFT_IN / width, right=1 - right_in / width, bottom=BOTTOM_IN * rows / height,
                           top=1 - TOP_IN / height, wspace=0.35 if columns > 1 else 0.2,
                           hspace=0.45 if rows > 1 else 0.2)
    return figure, axes


def _users_axis(axes: Axes, users: Sequence[int]) -> None:
    axes.set_xscale("log", base=2)
    axes.xaxis.set_major_locator(FixedLocator(list(users)))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axes.set_xlabel("concurrent users")
    if len(users) == 1:  # one level: a little room either side of it
        axes.set_xlim(users[0] / 1.5, users[0] * 1.5)


def _log_y(axes: Axes) -> None:
    """Log latency axis labelled with plain numbers at 1, 2 and 5 of each decade."""
    axes.set_yscale("log")
    axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_minor_locator(NullLocator())
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def label_ends(axes: Axes, ends: Sequence[tuple[float, float, str, str]]) -> None:
    """Name each line beside the axes, level with its last point, nudged apart so that no two
    names overlap; a thin leader joins a nudged name to its point. `ends`: (x, y, name, colour)."""
    if not ends:
        return
    axes.autoscale_view()  # settles the limits matplotlib would otherwise set when drawing
    to_axes = axes.transAxes.inverted()
    points = sorted(((*to_axes.transform(axes.transData.transform((x, y))), text, c)
                     for x, y, text, c in ends), key=lambda p: p[1])
    height_px = axes.get_window_extent().height or 1.0
    gap = LABEL_PT * 1.25 * axes.figure.dpi / 72 / height_px
    ys = [min(max(p[1], 0.0), 1.0) for p in points]
    for i in range(1, len(ys)):  # push up past the one below
        ys[i] = max(ys[i], ys[i - 1] + gap)
    top = max(1.0, (len(ys) - 1) * gap)
    if ys[-1] > top:  # then down from the top, keeping the order
        ys[-1] = top
        for i in range(len(ys) - 2, -1, -1):
            ys[i] = min(ys[i], ys[i + 1] - gap)
    for (x, y, text, c), label_y in zip(points, ys, strict=True):
        moved = abs(label_y - y) > gap / 3 or x < 0.97
        axes.annotate(text, xy=(x, y), xycoords="axes fraction", xytext=(1.03, label_y),
                      textcoords="axes fraction", fontsize=LABEL_PT, color=c, va="center",
                      annotation_clip=False,
                      arrowprops={"arrowstyle": "-", "color": c, "lw": 0.5, "alpha": 0.45}
                      if moved else None)


def _ranges(axes: Axes, xs: Sequence[float], spreads: Sequence[Spread], c: str) -> None:
    """Each point's min-max over the repeats as a vertical bar, all of a line's bars one path."""
    bx: list[float] = []
    by: list[float] = []
    for x, spread in zip(xs, spreads, strict=True):
        if spread.n > 1 and spread.high > spread.low:
            bx += [x, x, math.nan]
            by += [spread.low, spread.high, math.nan]
    if bx:
        axes.plot(bx, by, color=c, lw=0.9, alpha=0.7, clip_on=False)


def _series(view: RunView, axes: Axes, workload: str, value: Callable[[Cell], Spread | None],
            hollow: Callable[[Cell], bool] = lambda c: False) -> list[tuple[float, float, str, str]]:
    """Median per level with its min-max bar; doubtful points (flagged) ringed in black; `hollow`
    points (a thin tail) drawn open. Returns each line's end, for label_ends once the axes'
    scales and limits are set."""
    ends = []
    for stack in view.measured_stacks:
        points = [(c, s) for c in view.stack_cells(stack, workload) if (s := value(c)) is not None]
        if not points:
            continue
        c = colour(view, stack)
        xs = [float(cell.users) for cell, _ in points]
        ys = [s.median for _, s in points]
        # No marker on a plain point: the levels are the grid's vertical lines. Points within
        # the axes by construction, so nothing is clipped (a clip reference on every element).
        axes.plot(xs, ys, lw=1.2, color=c, clip_on=False, marker="o" if len(xs) == 1 else "", markersize=3.5)
        _ranges(axes, xs, [s for _, s in points], c)
        thin = [(cell.users, s.median) for cell, s in points if hollow(cell)]
        if thin:
            axes.plot(*_columns(thin), lw=0, marker="o", markersize=3.5, markerfacecolor="white", color=c,
                      clip_on=False)
        doubtful = [(cell.users, s.median) for cell, s in points if cell.flags]
        if doubtful:
            axes.plot(*_columns(doubtful), lw=0, marker="o", markersize=7, markerfacecolor="none",
                      markeredgecolor="black", markeredgewidth=0.6, clip_on=False)
        ends.append((xs[-1], ys[-1], stack, c))
    return ends


def latency_vs_users(view: RunView, workload: str, percentile: str) -> str:
    """p50 or p99 per level; a p99 the sample does not support is left out, a thin one hollow."""
    figure, ((axes,),) = _labelled()
    attribute = "p50_ms" if percentile == "p50" else "p99_ms"

    def value(c: Cell) -> Spread | None:
        spread: Spread | None = getattr(c, attribute)
        return None if cell_support(c, percentile) == "withheld" else spread

    ends = _series(view, axes, workload, value, hollow=lambda c: cell_support(c, percentile) == "thin")
    _users_axis(axes, view.users)
    _log_y(axes)
    axes.set_ylabel(f"{percentile} latency (ms)")
    axes.set_title(f"{percentile} latency vs concurrency")
    label_ends(axes, ends)
    return svg(figure, f"{workload}-{percentile}-users")


def throughput_vs_users(view: RunView, workload: str) -> str:
    figure, ((axes,),) = _labelled()
    ends = _series(view, axes, workload, view.rate)
    _users_axis(axes, view.users)
    axes.set_ylabel(f"answered {view.rate_unit(workload).replace('/s', '')} / s")
    axes.autoscale_view()
    axes.set_ylim(bottom=0)
    axes.set_title("throughput vs concurrency")
    label_ends(axes, ends)
    return svg(figure, f"{workload}-throughput-users")


def latency_vs_throughput(view: RunView, workload: str) -> str:
    """One line per stack through its levels, each level its own marker (named once, in a key)."""
    figure, ((axes,),) = _labelled()
    ends = []
    marker_of = {u: MARKERS[i % len(MARKERS)] for i, u in enumerate(view.users)}
    for stack in view.measured_stacks:
        points = [(c, rate, c.p99_ms) for c in view.stack_cells(stack, workload)
                  if (rate := view.rate(c)) is not None and c.p99_ms is not None
                  and cell_support(c, "p99") != "withheld"]
        if not points:
            continue
        xs, ys = [r.median for _, r, _ in points], [p.median for _, _, p in points]
        axes.plot(xs, ys, lw=1.2, color=colour(view, stack), clip_on=False)
        for users in view.users:
            at = [(x, y) for (c, _, _), x, y in zip(points, xs, ys, strict=True) if c.users == users]
            if at:
                axes.plot(*_columns(at), marker=marker_of[users], markersize=4, lw=0,
                          color=colour(view, stack), clip_on=False)
        ends.append((xs[-1], ys[-1], stack, colour(view, stack)))
    _log_y(axes)
    # The levels' markers named under the axis, where no line can run behind them.
    key = "   ".join(f"{SYMBOLS.get(marker_of[u], marker_of[u])} {users_text(u)}" for u in view.users)
    unit = f"answered {view.rate_unit(workload)} (median)"
    axes.set_xlabel(f"{unit}\n{key}" if len(view.users) > 1 else unit)
    axes.set_ylabel("p99 latency (ms, median)")
    axes.set_title("p99 latency vs throughput")
    label_ends(axes, ends)
    return svg(figure, f"{workload}-curve")


PERCENTILE_POINTS = (0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99)


def percentile_curve(cell: Cell) -> list[tuple[float, float]]:
    """(percentile, ms) from the repeats' measured histograms merged: every request counts once."""
    merged = decode("")
    for record in cell.records:
        merged.add(decode(record.measured.latency.histogram))
    if merged.get_total_count() == 0:
        return []
    return [(p, merged.get_value_at_percentile(p) / 1000) for p in PERCENTILE_POINTS]


def supported_curve(cell: Cell) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """The percentile curve cut where the merged sample stops supporting it: (supported points,
    thin points continuing them); nothing is drawn beyond the last answer."""
    total = sum(r.measured.latency.count for r in cell.records)
    solid, thin = [], []
    for p, ms in percentile_curve(cell):
        level = support(total, p)
        if level == "supported":
            solid.append((p, ms))
        elif level == "thin":
            thin.append((p, ms))
    if solid and thin:
        thin.insert(0, solid[-1])
    return solid, thin


def _percentile_x(p: float) -> float:
    return 1 / (1 - p / 100)


def _percentile_axis(axes: Axes) -> None:
    axes.set_xscale("log")
    _log_y(axes)
    axes.xaxis.set_major_locator(FixedLocator([2, 10, 100, 1000, 10000]))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"p{100 - 100 / v:g}"))
    axes.set_xlim(1, 10000 * 1.5)
    axes.set_xlabel("percentile")
    axes.set_ylabel("latency (ms)")


def _curves(axes: Axes, curves: Sequence[tuple[Cell, str, str]]) -> None:
    """Percentile curves, each (cell, name, colour): solid where supported, dotted where thin."""
    ends = []
    for cell, name, c in curves:
        solid, thin = supported_curve(cell)
        if solid:
            axes.plot([_percentile_x(p) for p, _ in solid], [ms for _, ms in solid], lw=1.2, color=c,
                      clip_on=False)
        if thin:
            axes.plot([_percentile_x(p) for p, _ in thin], [ms for _, ms in thin], ls=":", lw=1, color=c,
                      clip_on=False)
        ends += [(_percentile_x(p), ms, name, c) for p, ms in (thin or solid)[-1:]]
    _percentile_axis(axes)
    label_ends(axes, ends)


def latency_distribution(view: RunView, workload: str, users: int) -> str:
    figure, ((axes,),) = _labelled()
    _curves(axes, [(found, stack, colour(view, stack)) for stack in view.measured_stacks
                   if (found := view.cell(stack, workload, users)) is not None])
    axes.set_title(f"latency by percentile at {users_text(users)}")
    return svg(figure, f"{workload}-distribution")


def batching_stacks(view: RunView, workload: str) -> list[str]:
    """Stacks whose server reported time spent in a batching queue."""
    return [s for s in view.measured_stacks
            if any(r.server_metrics and r.server_metrics.queue_wait_seconds.count > 0
                   for c in view.stack_cells(s, workload) for r in c.records)]


def batching(view: RunView, workload: str) -> str | None:
    stacks = batching_stacks(view, workload)
    if not stacks:
        return None
    figure, ((size, wait),) = _labelled(columns=2, width=9.0)
    for axes, attribute in ((size, "batch_size"), (wait, "queue_wait_ms")):
        ends = []
        for stack in stacks:
            points = [(c.users, s) for c in view.stack_cells(stack, workload)
                      if (s := getattr(c, attribute)) is not None]
            if points:
                c = colour(view, stack)
                axes.plot([u for u, _ in points], [s.median for _, s in points], marker="o", markersize=3.5,
                          lw=1.2, color=c)
                _ranges(axes, [u for u, _ in points], [s for _, s in points], c)
                ends.append((points[-1][0], points[-1][1].median, stack, c))
        _users_axis(axes, view.users)
        axes.set_ylim(bottom=0)
        if axes is wait:
            label_ends(axes, ends)
    size.set_ylabel("rows per model call (mean)")
    wait.set_ylabel("queue wait (ms, mean)")
    size.set_title("server-side batch size")
    wait.set_title("server-side queue wait")
    return svg(figure, f"{workload}-batching")


# One stack's page: each workload's measurements over time, and its latency distributions.

REPEAT_STYLES = ("-", "--", ":", "-.")
PERCENTILE_OF = {"p50": 50.0, "p99": 99.0}
LEVEL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def measurement_timeline(view: RunView, stack: str, workload: str) -> str:
    """Every measurement of a stack and workload over its measured phase (colour: the level,
    line style: the repeat): answers per window, p50 and p99 per window where the window holds
    enough answers (as for any percentile, trust.py), the server's and the generator's CPU and
    the server's RSS per sample. Generators that hand their latencies over once per run (wrk)
    give the CPU and memory panels only."""
    cells = view.stack_cells(stack, workload)
    windowed = any(r.timeline and r.timeline.windows for c in cells for r in c.records)
    if windowed:
        figure, grid = _labelled(rows=2, columns=2, width=9.0, height=4.8, right_in=0.25)
        (rate, tail), (cpu, rss) = grid
    else:
        figure, ((cpu, rss),) = _labelled(columns=2, width=9.0, height=2.6, right_in=0.25)
    rows = view.counts_rows(workload)
    for n, cell in enumerate(cells):
        c = LEVEL_COLOURS[n % len(LEVEL_COLOURS)]
        for k, record in enumerate(cell.records):
            style = REPEAT_STYLES[k % len(REPEAT_STYLES)]
            label = users_text(cell.users) if k == 0 else None
            timeline = record.timeline
            if timeline is None:
                continue
            # Whole windows only: the last one holds the drain, a few answers in a short stretch.
            window = timeline.window_s or 0.0
            windows = [w for w in timeline.windows if w.duration_s >= window / 2 and w.duration_s > 0]
            if windows and windowed:
                mid = [w.start_s + w.duration_s / 2 for w in windows]
                served = [(w.rows if rows else w.requests - w.failures) / w.duration_s for w in windows]
                rate.plot(mid, served, ls=style, lw=1.1, color=c, label=label)
                for name, width, alpha in (("p50", 0.8, 0.5), ("p99", 1.2, 1.0)):
                    shown = [(x, v) for x, w in zip(mid, windows, strict=True)
                             if (v := getattr(w, f"{name}_ms")) is not None
                             and support(w.requests - w.failures, PERCENTILE_OF[name]) != "withheld"]
                    if shown:
                        tail.plot(*_columns(shown), ls=style, lw=width, alpha=alpha, color=c)
            points = timeline.resources
            if points:
                xs = [p.t_s for p in points]
                cpu.plot(xs, [p.server_cpu_percent for p in points], ls=style, lw=1.1, color=c, label=label)
                generator = [(p.t_s, p.generator_cpu_percent) for p in points
                             if p.generator_cpu_percent is not None]
                if generator:
                    cpu.plot(*_columns(generator), ls=style, lw=0.7, color=c, alpha=0.45)
                rss.plot(xs, [p.server_rss_mb for p in points], ls=style, lw=1.1, color=c)
    if windowed:
        rate.set_ylabel(f"answered {view.rate_unit(workload)}")
        rate.set_title("throughput per window")
        rate.set_ylim(bottom=0)
        tail.set_ylabel("latency (ms)")
        tail.set_title("p50 (faint) and p99 per window")
        if tail.get_lines():
            _log_y(tail)
        else:
            tail.text(0.5, 0.5, "no window held the 100 answers a p99 needs", ha="center", va="center",
                      transform=tail.transAxes, fontsize=8, color="#6e7781")
    cpu.set_ylabel("% of one core")
    cpu.set_title("CPU: server (strong), generator (faint)")
    rss.set_ylabel("MB")
    rss.set_title("server RSS, summed over its processes")
    for axes in (cpu, rss):
        axes.set_ylim(bottom=0)
        axes.set_xlabel("seconds into the measured phase")
    legend_in = rate if windowed else cpu
    if legend_in.get_legend_handles_labels()[0]:
        legend_in.legend(fontsize=6.5, loc="lower left", frameon=False)
    return svg(figure, f"timeline-{stack}-{workload}")


def stack_distribution(view: RunView, stack: str, workload: str) -> str:
    """The stack's latency by percentile at each level (repeats merged), cut where the sample
    stops supporting it."""
    figure, ((axes,),) = _labelled()
    _curves(axes, [(cell, users_text(cell.users), LEVEL_COLOURS[n % len(LEVEL_COLOURS)])
                   for n, cell in enumerate(view.stack_cells(stack, workload))])
    axes.set_title(f"{stack}, {workload}: latency by percentile")
    return svg(figure, f"distribution-{stack}-{workload}")


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
    return svg(figure, f"soak-{record.record_id}-memory")


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
    return svg(figure, f"soak-{record.record_id}-latency")
