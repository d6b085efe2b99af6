"""Latency tallies at microsecond resolution, mergeable across load-generator processes.

Locust's own statistics round response times below 100 ms to whole milliseconds; the
request event carries the unrounded time, which goes into an HdrHistogram here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from loadtests.plans import KindTallyData, TallyData
from servebench.results.histogram import LOWEST_US, add, decode, encode, new_histogram

EXAMPLES = 3  # distinct texts kept per kind of failure: enough to tell one cause from several
EXAMPLE_CHARS = 300  # each shortened to this: a status line and the start of an error body


@dataclass
class KindTally:
    """What one request kind did during one phase, in one process.

    Successful and failed answers are timed into separate histograms: a fast error must
    neither vanish nor flatter the latency of the answers that count.
    """

    requests: int = 0
    rows: int = 0  # rows of successful prediction requests: comparable to the server's counter
    failures: Counter[str] = field(default_factory=Counter)
    histogram: HdrHistogram = field(default_factory=new_histogram)
    failed_histogram: HdrHistogram = field(default_factory=new_histogram)
    examples: dict[str, list[str]] = field(default_factory=dict)  # failure -> first distinct texts

    def example(self, failure: str, text: str) -> None:
        """Keep what a failure looked like, the first few distinct texts of each kind."""
        kept = self.examples.setdefault(failure, [])
        text = " ".join(text.split())[:EXAMPLE_CHARS]
        if len(kept) < EXAMPLES and text not in kept:
            kept.append(text)

    def to_data(self) -> KindTallyData:
        return KindTallyData(requests=self.requests, rows=self.rows, failures=dict(self.failures),
                             histogram=encode(self.histogram),
                             failed_histogram=encode(self.failed_histogram),
                             examples={k: list(v) for k, v in self.examples.items()})

    def merge(self, data: KindTallyData) -> None:
        self.requests += data.requests
        self.rows += data.rows
        self.failures.update(data.failures)
        add(self.histogram, decode(data.histogram))
        add(self.failed_histogram, decode(data.failed_histogram))
        for failure, texts in data.examples.items():
            for text in texts:
                self.example(failure, text)


@dataclass
class PhaseTally:
    """One phase (warm-up or measured) of one measurement: per-kind tallies and its span."""

    kinds: dict[str, KindTally] = field(default_factory=dict)
    first_start: float | None = None  # epoch seconds of the first request sent
    last_end: float | None = None  # epoch seconds of the last answer received

    def record(self, kind: str, started: float, response_ms: float, rows: int,
               failure: str | None) -> None:
        tally = self.kinds.setdefault(kind, KindTally())
        tally.requests += 1
        micros = max(LOWEST_US, round(response_ms * 1000))
        if failure:
            tally.failures[failure] += 1
            tally.failed_histogram.record_value(micros)
        else:
            tally.rows += rows
            tally.histogram.record_value(micros)
        ended = started + response_ms / 1000
        self.first_start = started if self.first_start is None else min(self.first_start, started)
        self.last_end = ended if self.last_end is None else max(self.last_end, ended)

    def example(self, kind: str, failure: str, text: str) -> None:
        self.kinds.setdefault(kind, KindTally()).example(failure, text)

    def to_data(self) -> TallyData:
        return TallyData(kinds={k: t.to_data() for k, t in self.kinds.items()},
                         first_start=self.first_start, last_end=self.last_end)

    def merge(self, data: TallyData) -> None:
        for kind, tally in data.kinds.items():
            self.kinds.setdefault(kind, KindTally()).merge(tally)
        if data.first_start is not None:
            self.first_start = data.first_start if self.first_start is None else min(self.first_start,
                                                                                     data.first_start)
        if data.last_end is not None:
            self.last_end = data.last_end if self.last_end is None else max(self.last_end, data.last_end)

    @classmethod
    def of(cls, data: TallyData | None) -> PhaseTally:
        tally = cls()
        if data is not None:
            tally.merge(data)
        return tally


@dataclass
class WindowTallies:
    """A phase cut into fixed windows by each answer's arrival time, counted from `origin`.

    Windows that can no longer receive answers are kept encoded, so a long phase costs a few
    kilobytes per window rather than a set of full-range histograms.
    """

    window_s: float
    origin: float  # epoch seconds: the phase's opening, shared by every Locust process
    open: dict[int, PhaseTally] = field(default_factory=dict)
    closed: dict[int, TallyData] = field(default_factory=dict)

    def record(self, kind: str, started: float, response_ms: float, rows: int,
               failure: str | None) -> None:
        index = max(0, int((started + response_ms / 1000 - self.origin) // self.window_s))
        if index not in self.open:
            self.open[index] = PhaseTally()
            if index in self.closed:  # a late arrival: reopen rather than lose the window
                self.open[index].merge(self.closed.pop(index))
        self.open[index].record(kind, started, response_ms, rows, failure)
        for older in [i for i in self.open if i < index - 1]:
            self.closed[older] = self.open.pop(older).to_data()

    def to_data(self) -> dict[str, TallyData]:
        """Window index (as text, a JSON key) -> its tally, in order."""
        windows = {**self.closed, **{i: t.to_data() for i, t in self.open.items()}}
        return {str(i): windows[i] for i in sorted(windows)}

    def merge(self, windows: dict[str, TallyData]) -> None:
        for index, tally in windows.items():
            self.open.setdefault(int(index), PhaseTally()).merge(tally)
