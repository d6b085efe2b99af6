"""CPU and memory of process trees, sampled on a timeline and cut to any window afterwards.

Sampling runs for the whole Locust run; the measured window is only known (from the load
generator's own timestamps) once the run is over, so samples are kept and sliced later.
A service servebench did not start has no process here: its CPU and memory come from the
process metrics its own /metrics exports, if it exports them (MetricsSource).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psutil
from prometheus_client.parser import text_string_to_metric_families

from loadtests.server_metrics import scrape
from servers.process import ExternalServer, Server

ProcessSource = Callable[[], Sequence[psutil.Process]]
# Prometheus clients' standard process metrics (Go, Java and Python clients export these names).
CPU_METRIC, RSS_METRIC = "process_cpu_seconds_total", "process_resident_memory_bytes"
METRICS_PID = 0  # the one "process" a metrics sample describes: whatever the exporter covers


@dataclass(frozen=True)
class MetricsSource:
    """An external service's /metrics, read every `every_s`: about what a fast Prometheus scrape
    adds to a service's load, and enough for windows of a few seconds."""

    url: str
    every_s: float = 1.0


Source = ProcessSource | MetricsSource


@dataclass(frozen=True)
class Sample:
    at: float  # epoch seconds
    cpu_s: dict[int, float]  # pid -> user + system CPU seconds so far
    rss: dict[int, int]  # pid -> resident bytes
    # pid -> unique (private) bytes, on the samples that read them: smaps_rollup walks the
    # process's page tables (~1.5 ms each), too costly for every sample.
    uss: dict[int, int] | None = None


@dataclass(frozen=True)
class WindowUsage:
    cpu_percent: float  # 100 = one core busy for the whole window
    max_process_cpu_percent: float  # the busiest single process
    rss_max_bytes: int  # the tree's summed RSS, highest sample (shared pages counted per process)
    processes: int
    samples: int


def take(processes: Sequence[psutil.Process], uss: bool = False) -> Sample:
    cpu: dict[int, float] = {}
    rss: dict[int, int] = {}
    unique: dict[int, int] = {}
    for process in processes:
        try:
            with process.oneshot():
                times = process.cpu_times()
                cpu[process.pid] = times.user + times.system
                if uss:
                    full = process.memory_full_info()
                    rss[process.pid], unique[process.pid] = full.rss, full.uss
                else:
                    rss[process.pid] = process.memory_info().rss
        except psutil.Error:
            continue
    return Sample(time.time(), cpu, rss, unique if uss else None)


def take_metrics(url: str) -> Sample | None:
    """A sample from the service's process metrics; None when it exports none (or is down)."""
    text = scrape(url)
    if text is None:
        return None
    at = time.time()
    cpu = rss = None
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == CPU_METRIC:
                    cpu = (cpu or 0.0) + sample.value
                elif sample.name == RSS_METRIC:
                    rss = (rss or 0.0) + sample.value
    except ValueError:
        return None
    if cpu is None or rss is None:
        return None
    return Sample(at, {METRICS_PID: cpu}, {METRICS_PID: int(rss)})


@dataclass(frozen=True)
class ProcessReading:
    pid: int
    name: str
    rss: int  # bytes
    uss: int | None  # None where the platform cannot tell (smaps missing, or no permission)
    pss: int | None


def read_memory(processes: Sequence[psutil.Process]) -> list[ProcessReading]:
    """Resident, unique and proportional memory of each process, read from smaps: a walk of each
    process's page tables, so read once between measurements, never while one runs."""
    found = []
    for process in processes:
        try:
            with process.oneshot():
                name = process.name()
                try:
                    full = process.memory_full_info()
                    rss, uss, pss = full.rss, getattr(full, "uss", None), getattr(full, "pss", None)
                except psutil.AccessDenied:
                    rss, uss, pss = process.memory_info().rss, None, None
        except psutil.Error:
            continue
        found.append(ProcessReading(process.pid, name, rss, uss, pss))
    return found


@dataclass(frozen=True)
class Point:
    """One sampling interval of a process tree: its CPU over the interval, its RSS at the end."""

    at: float  # the interval's end, epoch seconds
    cpu_percent: float  # 100 = one core
    rss_bytes: int


def series(samples: Sequence[Sample], start: float, end: float) -> list[Point]:
    """CPU and RSS between consecutive samples inside [start, end]."""
    inside = [s for s in samples if start <= s.at <= end]
    points = []
    for before, after in itertools.pairwise(inside):
        elapsed = after.at - before.at
        if elapsed <= 0:
            continue
        spent = sum(after.cpu_s[pid] - before.cpu_s[pid] for pid in after.cpu_s if pid in before.cpu_s)
        points.append(Point(after.at, 100 * spent / elapsed, sum(after.rss.values())))
    return points


def usage(samples: Sequence[Sample], start: float, end: float) -> WindowUsage | None:
    """Usage between the first and last sample inside [start, end]; None if fewer than two."""
    inside = [s for s in samples if start <= s.at <= end]
    if len(inside) < 2:
        return None
    first, last = inside[0], inside[-1]
    elapsed = last.at - first.at
    per_process = {pid: last.cpu_s[pid] - first.cpu_s[pid] for pid in last.cpu_s if pid in first.cpu_s}
    total = sum(per_process.values())
    return WindowUsage(
        cpu_percent=100 * total / elapsed,
        max_process_cpu_percent=100 * max(per_process.values(), default=0.0) / elapsed,
        rss_max_bytes=max(sum(s.rss.values()) for s in inside),
        processes=max(len(s.rss) for s in inside),
        samples=len(inside),
    )


@dataclass(frozen=True)
class CpuSample:
    at: float
    busy_s: tuple[float, ...]  # per CPU: seconds not idle so far
    total_s: tuple[float, ...]


def take_cpus() -> CpuSample:
    per_cpu = psutil.cpu_times(percpu=True)
    return CpuSample(time.time(), tuple(t.user + t.nice + t.system + t.irq + t.softirq + t.steal
                                        for t in per_cpu), tuple(sum(t) for t in per_cpu))


def cpus_busy(samples: Sequence[CpuSample], cpus: Sequence[int], start: float, end: float) -> float | None:
    """How busy these CPUs were in [start, end], whoever kept them busy; 100 = one core."""
    inside = [s for s in samples if start <= s.at <= end]
    if len(inside) < 2 or not cpus:
        return None
    first, last = inside[0], inside[-1]
    return sum(100 * (last.busy_s[c] - first.busy_s[c]) / max(1e-9, last.total_s[c] - first.total_s[c])
               for c in cpus)


class Sampler:
    """Samples named process trees, and every CPU, every `interval_s` in a background thread."""

    def __init__(self, sources: dict[str, Source], interval_s: float = 0.2,
                 uss_every_s: dict[str, float] | None = None) -> None:
        self.sources = sources
        self.interval_s = interval_s
        self.uss_every_s = uss_every_s or {}  # source name -> seconds between USS readings
        self._uss_at: dict[str, float] = {}
        self._scraped_at: dict[str, float] = {}
        self.samples: dict[str, list[Sample]] = {name: [] for name in sources}
        self.cpus: list[CpuSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for name, source in self.sources.items():
                every, now = self.uss_every_s.get(name), time.monotonic()
                if isinstance(source, MetricsSource):
                    if now - self._scraped_at.get(name, -source.every_s) >= source.every_s:
                        self._scraped_at[name] = now
                        if (sample := take_metrics(source.url)) is not None:
                            self.samples[name].append(sample)
                    continue
                uss = every is not None and now - self._uss_at.get(name, -every) >= every
                if uss:
                    self._uss_at[name] = now
                self.samples[name].append(take(source(), uss))
            self.cpus.append(take_cpus())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def server_source(server: Server) -> Source:
    """What tells the server's CPU and memory: its process tree, or an external service's own
    process metrics."""
    if isinstance(server, ExternalServer):
        return MetricsSource(server.url_for("metrics"))
    return server.processes


def tree(root: psutil.Process | None) -> list[psutil.Process]:
    if root is None:
        return []
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
