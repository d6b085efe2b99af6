"""How far each number of a cell can be trusted, by rules stated once (docs/reports.md).

Every rule is a ratio or a count of what the run recorded, never an absolute time, so it
means the same on a machine three times faster:

- A percentile is read from the answers beyond it. The p99 of 100 answers is the slowest one
  or two; of 50 answers it is the maximum. A percentile p is *supported* when every repeat had
  at least TAIL_ANSWERS answers beyond it (n x (1 - p) >= 10: p99 needs 1,000 answers, p99.9
  10,000), *thin* (shown greyed) with at least one, *withheld* with less than one.
- Repeats are fresh processes; when their throughputs differ by more than BIMODAL_FACTOR the
  cell is *bimodal*: the median hides two behaviours and every repeat's value is shown.
- A measured window shorter than WINDOW_TAILS p99s is *short for its tail*: the phase opens
  with every user sending at once and closes with a drain, each about one round trip, and a
  single stall as long as the p99 is then over 1 % of the window, as much as the tail itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from servebench.report.stats import Cell
from servebench.results.schema import Record

TAIL_ANSWERS = 10  # answers beyond a percentile for it to be supported
BIMODAL_FACTOR = 2.0  # highest over lowest repeat's throughput beyond which a cell is bimodal
WINDOW_TAILS = 100  # measured window over p99 below which the window is short for its tail

Support = Literal["supported", "thin", "withheld"]
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9}


def support(answers: int, percentile: float) -> Support:
    """Whether `answers` successful answers hold enough of a tail to read this percentile from."""
    beyond = answers * (1 - percentile / 100)
    if beyond >= TAIL_ANSWERS:
        return "supported"
    return "thin" if beyond >= 1 else "withheld"


def needed(percentile: float, level: Support = "supported") -> int:
    """The fewest answers a repeat needs for `percentile` to be at least `level`."""
    beyond = TAIL_ANSWERS if level == "supported" else 1
    return round(beyond / (1 - percentile / 100))


def answers(record: Record) -> int:
    """Successful answers of the measured phase: what the latency histogram holds."""
    return record.measured.latency.count


def cell_support(cell: Cell, name: str) -> Support:
    """A cell's percentile rests on its thinnest repeat: each repeat's value is read alone."""
    fewest = min((answers(r) for r in cell.records), default=0)
    return support(fewest, PERCENTILES[name])


def bimodal(cell: Cell) -> tuple[float, ...] | None:
    """Every repeat's throughput when they disagree by more than BIMODAL_FACTOR, else None."""
    values = tuple(r.measured.rps for r in cell.records)
    if len(values) < 2 or max(values) <= 0:
        return None
    low, high = min(values), max(values)
    return values if low <= 0 or high / low > BIMODAL_FACTOR else None


def short_window(cell: Cell) -> bool:
    """The measured window held fewer than WINDOW_TAILS of the cell's p99."""
    if cell.p99_ms is None:
        return False
    window_ms = min(r.measured.duration_s for r in cell.records) * 1000
    return window_ms < WINDOW_TAILS * cell.p99_ms.median


def generator_cpu(cell: Cell) -> float | None:
    """The busiest generator process, highest over the repeats (100 = one core): as sampled
    here, or as a Locust process reported its own CPU (a worker on another host)."""
    seen = [r.resources.generator_max_process_cpu_percent for r in cell.records if r.resources]
    seen += [p.cpu_percent for r in cell.records for p in r.generator_processes]
    return max(seen) if seen else None


def client_share(cell: Cell) -> float | None:
    """The harness's own p50 over the cell's p50, the highest over the repeats."""
    seen = [r.client.share for r in cell.records if r.client is not None]
    return max(seen) if seen else None


@dataclass(frozen=True)
class Trust:
    """What a reader needs beside a cell's numbers to know how far to believe them."""

    answers: tuple[int, ...]  # successful answers per repeat
    p99: Support
    p999: Support
    bimodal: tuple[float, ...] | None
    short_window: bool
    generator_cpu: float | None
    client_share: float | None

    @property
    def notes(self) -> list[str]:
        out = []
        if self.p99 != "supported":
            out.append(f"p99 {self.p99}: {min(self.answers):,} answers in the thinnest repeat, "
                       f"{needed(99.0):,} support it")
        if self.bimodal:
            out.append("bimodal repeats: " + ", ".join(f"{v:,.1f}" for v in self.bimodal) + " req/s")
        if self.short_window:
            out.append(f"window short for its tail (under {WINDOW_TAILS} p99s)")
        return out


def trust(cell: Cell) -> Trust:
    return Trust(answers=tuple(answers(r) for r in cell.records), p99=cell_support(cell, "p99"),
                 p999=cell_support(cell, "p99.9"), bimodal=bimodal(cell), short_window=short_window(cell),
                 generator_cpu=generator_cpu(cell), client_share=client_share(cell))
