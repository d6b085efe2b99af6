"""Medians over repeats, with their spread: what the terminal table and reports show."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from servebench.results.schema import Record


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values), len(values))


@dataclass(frozen=True)
class Row:
    stack: str
    workload: str
    users: int
    rps: Spread | None
    p50_ms: Spread | None
    p99_ms: Spread | None
    server_cpu_percent: Spread | None
    requests: int
    failures: int
    flags: tuple[str, ...]


def _spread(records: Sequence[Record], value: Callable[[Record], float | None]) -> Spread | None:
    return Spread.of([v for r in records if (v := value(r)) is not None])


def summarize(records: Iterable[Record]) -> list[Row]:
    """One row per stack x workload x users, in the order the records were made."""
    groups: dict[tuple[str, str, int], list[Record]] = {}
    for record in records:
        groups.setdefault((record.stack, record.workload, record.users), []).append(record)
    rows = []
    for (stack, workload, users), group in groups.items():
        rows.append(Row(
            stack, workload, users,
            rps=_spread(group, lambda r: r.measured.rps),
            p50_ms=_spread(group, lambda r: r.measured.latency.percentiles_ms.get("p50")),
            p99_ms=_spread(group, lambda r: r.measured.latency.percentiles_ms.get("p99")),
            server_cpu_percent=_spread(group, lambda r: r.resources.server_cpu_percent
                                       if r.resources else None),
            requests=sum(r.measured.requests for r in group),
            failures=sum(sum(r.measured.failures.values()) for r in group),
            flags=tuple(sorted({flag for r in group for flag in r.flags})),
        ))
    return rows
