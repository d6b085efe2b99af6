"""Per stack x workload x users aggregates over repeats, with their spread.

Every number is a median over the repeats, with min and max kept beside it, so that a
reader (and the significance test) can see how much the repeats disagreed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from servebench.results.schema import Record
from servebench.results.summary import Spread


def overlaps(a: Spread | None, b: Spread | None) -> bool:
    """True when the two min-max ranges over repeats overlap: no significant difference."""
    if a is None or b is None:
        return True
    return a.low <= b.high and b.low <= a.high


def significant(a: Spread | None, b: Spread | None) -> bool:
    """A difference counts only with repeats on both sides and disjoint ranges."""
    return a is not None and b is not None and a.n > 1 and b.n > 1 and not overlaps(a, b)


def _spread(records: Sequence[Record], value: Callable[[Record], float | None]) -> Spread | None:
    return Spread.of([v for r in records if (v := value(r)) is not None])


def rows_per_s(record: Record) -> float | None:
    """Predicted rows per second: comparable across single and batch workloads."""
    m = record.measured
    rows = sum(kind.rows for kind in m.kinds.values())
    return rows / m.duration_s if m.duration_s > 0 else None


def cpu_s_per_1k(record: Record) -> float | None:
    """Server CPU-seconds spent per 1,000 answered requests in the measured phase."""
    res, m = record.resources, record.measured
    if res is None or res.server_cpu_percent is None or m.requests == 0:
        return None
    return res.server_cpu_percent / 100 * m.duration_s / m.requests * 1000


def percentile(name: str) -> Callable[[Record], float | None]:
    return lambda r: r.measured.latency.percentiles_ms.get(name)


@dataclass(frozen=True)
class Cell:
    """One stack x workload x users: every repeat's record and the aggregates read from them."""

    stack: str
    workload: str
    users: int
    records: tuple[Record, ...]
    rps: Spread | None
    rows_per_s: Spread | None
    p50_ms: Spread | None
    p99_ms: Spread | None
    cpu_s_per_1k: Spread | None
    rss_mb: Spread | None
    queue_wait_ms: Spread | None
    batch_size: Spread | None
    requests: int
    failures: int
    flags: tuple[str, ...]

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None


def peak(cells: Iterable[Cell]) -> Cell | None:
    """The level with the highest median throughput; None if no level has one."""
    rated = [c for c in cells if c.rps is not None]
    return max(rated, key=lambda c: c.rps.median if c.rps else 0.0, default=None)


def cell(records: Sequence[Record]) -> Cell:
    first = records[0]

    def metric(name: str) -> Callable[[Record], float | None]:
        return lambda r: getattr(r.server_metrics, name) if r.server_metrics else None

    return Cell(
        stack=first.stack, workload=first.workload, users=first.users, records=tuple(records),
        rps=_spread(records, lambda r: r.measured.rps), rows_per_s=_spread(records, rows_per_s),
        p50_ms=_spread(records, percentile("p50")), p99_ms=_spread(records, percentile("p99")),
        cpu_s_per_1k=_spread(records, cpu_s_per_1k),
        rss_mb=_spread(records, lambda r: r.resources.server_rss_mb if r.resources else None),
        queue_wait_ms=_spread(records, metric("mean_queue_wait_ms")),
        batch_size=_spread(records, metric("mean_batch_size")),
        requests=sum(r.measured.requests for r in records),
        failures=sum(sum(r.measured.failures.values()) for r in records),
        flags=tuple(sorted({flag for r in records for flag in r.flags})),
    )


def cells(records: Iterable[Record]) -> dict[tuple[str, str, int], Cell]:
    """(stack, workload, users) -> Cell, in the order the records were made."""
    groups: dict[tuple[str, str, int], list[Record]] = {}
    for record in records:
        groups.setdefault((record.stack, record.workload, record.users), []).append(record)
    return {key: cell(sorted(group, key=lambda r: r.repeat)) for key, group in groups.items()}
