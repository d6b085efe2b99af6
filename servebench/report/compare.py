"""Two runs side by side: per stack x workload x users deltas, and what differs between the runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servebench.report.stats import Cell, overlaps
from servebench.report.view import RunView
from servebench.results.schema import Run
from servebench.results.summary import Spread

SIGNIFICANT, NOT_SIGNIFICANT, UNKNOWN = "significant", "not significant", "one repeat"


def significance(a: Spread | None, b: Spread | None) -> str:
    if a is None or b is None or a.n < 2 or b.n < 2:
        return UNKNOWN
    return NOT_SIGNIFICANT if overlaps(a, b) else SIGNIFICANT


@dataclass(frozen=True)
class Change:
    a: Spread | None
    b: Spread | None
    significance: str
    higher_is_better: bool

    @property
    def relative(self) -> float | None:
        if self.a is None or self.b is None or not self.a.median:
            return None
        return self.b.median / self.a.median - 1

    @property
    def better(self) -> bool | None:
        """True/False when the change is significant, None when it is not or cannot be told."""
        if self.significance != SIGNIFICANT or self.relative is None:
            return None
        return (self.relative > 0) == self.higher_is_better

    def text(self) -> str:
        if self.relative is None:
            return "–"
        marker = {SIGNIFICANT: "*", NOT_SIGNIFICANT: "~", UNKNOWN: "?"}[self.significance]
        return f"{self.relative * 100:+.1f} % {marker}"


@dataclass(frozen=True)
class DeltaRow:
    stack: str
    workload: str
    users: int
    rps: Change
    p50: Change
    p99: Change
    note: str  # measured in one run only, flagged, ...


def _change(a: Cell | None, b: Cell | None, name: str, higher_is_better: bool) -> Change:
    sa = getattr(a, name) if a else None
    sb = getattr(b, name) if b else None
    return Change(sa, sb, significance(sa, sb), higher_is_better)


def _note(a: Cell | None, b: Cell | None) -> str:
    if a is None:
        return "only in B"
    if b is None:
        return "only in A"
    flags = sorted(set(a.flags) | set(b.flags))
    return ", ".join(flags)


CellKey = tuple[str, str, int]  # stack, workload, users


def _aligned(view: RunView, other: RunView) -> dict[CellKey, Cell]:
    """The view's cells, an external service's under the name of the stack it runs when the
    other run measured that stack and not the service: a deployment against the same stack
    run here."""
    topology = view.loaded.run.settings.topology
    label = view.loaded.run.settings.stacks[0] if topology.external_kind else None
    kind = topology.external_kind
    other_stacks = {key[0] for key in other.cells}
    if label is None or kind is None or label in other_stacks or kind not in other_stacks:
        return dict(view.cells)
    return {(kind if key[0] == label else key[0], key[1], key[2]): cell
            for key, cell in view.cells.items()}


def deltas(a: RunView, b: RunView) -> list[DeltaRow]:
    cells_a, cells_b = _aligned(a, b), _aligned(b, a)
    keys = list(cells_a) + [k for k in cells_b if k not in cells_a]
    rows = []
    for key in keys:
        ca, cb = cells_a.get(key), cells_b.get(key)
        rows.append(DeltaRow(*key, rps=_change(ca, cb, "rps", True), p50=_change(ca, cb, "p50_ms", False),
                             p99=_change(ca, cb, "p99_ms", False), note=_note(ca, cb)))
    return rows


def differences(a: Run, b: Run) -> list[str]:
    """What differs between the runs beyond the code under test: each makes deltas less meaningful."""
    out = []
    ma, mb = a.machine.model_dump(), b.machine.model_dump()
    changed = [f"{k} {ma[k]} → {mb[k]}" for k in ma if ma[k] != mb[k]]
    if changed:
        out.append("machine differs: " + "; ".join(changed))
    sa, sb = a.settings, b.settings
    pinning = [(n, getattr(sa, n), getattr(sb, n)) for n in ("server_cpus", "load_cpus", "locust_workers")]
    if any(x != y for _, x, y in pinning):
        out.append("pinning differs: " + "; ".join(f"{n} {x} → {y}" for n, x, y in pinning if x != y))
    ta, tb = sa.topology, sb.topology
    for name, run in (("A", ta), ("B", tb)):
        if run.external_url:
            out.append(f"{name} measured a service it did not start, at {run.external_url} "
                       f"({run.external_kind}): its network path is in its numbers")
    if (ta.remote_workers, ta.locust_master) != (tb.remote_workers, tb.locust_master):
        out.append(f"load came from {ta.remote_workers} → {tb.remote_workers} Locust workers on other hosts")
    if a.model != b.model:
        out.append(f"model differs: {a.model.get('profile')} {a.model.get('version')} → "
                   f"{b.model.get('profile')} {b.model.get('version')}")
    names = sorted(set(a.packages) | set(b.packages))
    versions = [f"{n} {a.packages.get(n, 'absent')} → {b.packages.get(n, 'absent')}" for n in names
                if a.packages.get(n) != b.packages.get(n)]
    if a.python != b.python:
        versions.insert(0, f"python {a.python} → {b.python}")
    if versions:
        out.append("package versions differ: " + "; ".join(versions))
    timing = [(n, getattr(sa, n), getattr(sb, n)) for n in ("warmup_s", "measure_s", "repeats")]
    if any(x != y for _, x, y in timing):
        out.append("measurement settings differ: "
                   + "; ".join(f"{n} {x} → {y}" for n, x, y in timing if x != y))
    return out


def compare_context(a: RunView, b: RunView) -> dict[str, Any]:
    return {"a": a.loaded.run, "b": b.loaded.run, "rows": deltas(a, b),
            "warnings": differences(a.loaded.run, b.loaded.run)}
