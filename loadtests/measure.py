"""One closed-loop measurement (stack x workload x users x repeat): plan it, drive it with the
chosen generator, and turn what came back into a Record, the same way whichever generator."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
from hdrh.histogram import HdrHistogram

from loadtests import payloads, sampling, server_metrics
from loadtests.generators import Generator, GeneratorSettings
from loadtests.generators.base import Driven
from loadtests.plans import ClosedOutput, ClosedPlan, PhaseOutput
from loadtests.recording import PhaseTally
from loadtests.sampling import CpuSample, Sample
from loadtests.session import MeasurementFailed, Session
from loadtests.workloads import PREDICTION_KINDS, WORKLOADS
from servebench.results.declarations import (
    CLIENT_SHARE_PERCENT,
    CONTENTION_PERCENT,
    GENERATOR_BOUND_PERCENT,
)
from servebench.results.histogram import RESOLUTION, add, encode, new_histogram, percentiles_ms
from servebench.results.schema import (
    ClientShare,
    GeneratorProcess,
    KindStats,
    Latency,
    Memory,
    Phase,
    ProcessMemory,
    Record,
    ResourcePoint,
    Resources,
    Timeline,
    TimelineWindow,
)
from servers.process import ExternalServer

# The measured phase is cut into this many windows for its timeline, whatever its length: enough
# to see a stall or a ramp, few enough that each window holds a share of the answers.
TIMELINE_WINDOWS = 10
MB = 2**20


@dataclass(frozen=True)
class MeasureSettings:
    warmup_s: float
    measure_s: float
    drain_timeout_s: float
    generator: GeneratorSettings


def latency(histogram: HdrHistogram) -> Latency:
    return Latency(resolution=RESOLUTION, count=histogram.get_total_count(),
                   histogram=encode(histogram), percentiles_ms=percentiles_ms(histogram))


def phase(data: PhaseOutput, nominal_s: float) -> Phase:
    tally = PhaseTally.of(data.tally)
    combined, combined_failed = new_histogram(), new_histogram()
    failures: Counter[str] = Counter()
    kinds = {}
    for kind, kt in sorted(tally.kinds.items()):
        add(combined, kt.histogram)
        add(combined_failed, kt.failed_histogram)
        failures.update(kt.failures)
        kinds[kind] = KindStats(requests=kt.requests, rows=kt.rows, failures=dict(kt.failures),
                                latency=latency(kt.histogram), failed_latency=latency(kt.failed_histogram),
                                failure_examples={k: list(v) for k, v in kt.examples.items()})
    requests = sum(k.requests for k in kinds.values())
    duration = (tally.last_end - tally.first_start) if tally.first_start and tally.last_end else 0.0
    ok = requests - sum(failures.values())
    return Phase(users=data.users, nominal_s=nominal_s, duration_s=duration, drained=data.drained,
                 requests=requests, failures=dict(failures), rps=ok / duration if duration > 0 else 0.0,
                 latency=latency(combined), failed_latency=latency(combined_failed), kinds=kinds)


def resources(samples: dict[str, list[Sample]], cpu_samples: Sequence[CpuSample], start: float,
              end: float, load_cpus: Sequence[int] | None, server_cpus: Sequence[int] | None,
              external: bool = False) -> Resources | None:
    """`external`: the server's samples are its own process metrics, and may be missing."""
    server = sampling.usage(samples.get("server", []), start, end)
    generator = sampling.usage(samples.get("generator", []), start, end)
    if generator is None or (server is None and not external):
        return None
    busy = {name: sampling.cpus_busy(cpu_samples, cpus, start, end) if cpus else None
            for name, cpus in (("server", server_cpus), ("load", load_cpus))}
    return Resources(
        server_cpu_percent=server.cpu_percent if server else None,
        server_rss_mb=server.rss_max_bytes / 2**20 if server else None,
        server_processes=None if external or server is None else server.processes,
        generator_cpu_percent=generator.cpu_percent,
        generator_max_process_cpu_percent=generator.max_process_cpu_percent,
        server_cpus_busy_percent=busy["server"], load_cpus_busy_percent=busy["load"],
        samples=min(server.samples, generator.samples) if server else generator.samples,
        server_source=("metrics" if server else "unknown") if external else "processes",
    )


def timeline_windows(data: PhaseOutput, window_s: float) -> list[TimelineWindow]:
    """Each window's answers: count, failures, rows and the successful answers' p50/p99/max."""
    out = []
    for index, raw in (data.windows or {}).items():
        tally = PhaseTally.of(raw)
        combined = new_histogram()
        for kt in tally.kinds.values():
            add(combined, kt.histogram)
        start = int(index) * window_s
        # A window ends where the phase's answers end: the last ones arrive during the drain.
        ends = max(data.paused_at, tally.last_end or data.paused_at) - data.opened_at
        quantiles = percentiles_ms(combined)
        out.append(TimelineWindow(
            start_s=start, duration_s=max(0.0, min(window_s, ends - start)),
            requests=sum(k.requests for k in tally.kinds.values()),
            failures=sum(sum(k.failures.values()) for k in tally.kinds.values()),
            rows=sum(k.rows for k in tally.kinds.values()),
            p50_ms=quantiles.get("p50"), p99_ms=quantiles.get("p99"), max_ms=quantiles.get("max")))
    return out


def timeline(data: PhaseOutput, window_s: float | None, samples: dict[str, list[Sample]]) -> Timeline:
    """The measured phase over time: answers per window (when the generator timed each answer)
    and the sampled CPU and RSS of the server's tree and the generator's processes."""
    start, end = data.opened_at, data.paused_at
    server = sampling.series(samples.get("server", []), start, end)
    generator = sampling.series(samples.get("generator", []), start, end)

    def generator_cpu(at: float) -> float | None:
        """The generator's interval ending nearest `at`: both trees are sampled in one sweep."""
        near = min(generator, key=lambda g: abs(g.at - at), default=None)
        return near.cpu_percent if near is not None else None

    points = [ResourcePoint(t_s=p.at - start, server_cpu_percent=p.cpu_percent,
                            server_rss_mb=p.rss_bytes / MB, generator_cpu_percent=generator_cpu(p.at))
              for p in server]
    windows = timeline_windows(data, window_s) if window_s is not None else []
    return Timeline(window_s=window_s if windows else None, windows=windows, resources=points)


def memory(processes: Sequence[psutil.Process]) -> Memory | None:
    """The tree's memory per process, and summed three ways (RSS, USS, PSS)."""
    readings = sampling.read_memory(processes)
    if not readings:
        return None

    def total(values: list[int | None]) -> float | None:
        return None if any(v is None for v in values) else sum(v or 0 for v in values) / MB

    return Memory(
        processes=[ProcessMemory(pid=r.pid, name=r.name, rss_mb=r.rss / MB,
                                 uss_mb=r.uss / MB if r.uss is not None else None,
                                 pss_mb=r.pss / MB if r.pss is not None else None) for r in readings],
        rss_mb=sum(r.rss for r in readings) / MB, uss_mb=total([r.uss for r in readings]),
        pss_mb=total([r.pss for r in readings]))


def contention_flags(res: Resources) -> list[str]:
    return [f"{name}_cpu_contention" for name, busy, own in (
        ("server", res.server_cpus_busy_percent, res.server_cpu_percent),
        ("load", res.load_cpus_busy_percent, res.generator_cpu_percent))
        if busy is not None and own is not None and busy - own > CONTENTION_PERCENT]


def client_share(measured: Phase, floor: Record | None) -> ClientShare | None:
    """The harness's own latency next to this measurement's: the floor's at the same generator,
    workload and users."""
    p50 = measured.latency.percentiles_ms.get("p50")
    floor_p50 = floor.measured.latency.percentiles_ms.get("p50") if floor else None
    if floor is None or not p50 or floor_p50 is None:
        return None
    return ClientShare(floor_record=floor.record_id, p50_ms=floor_p50,
                       p99_ms=floor.measured.latency.percentiles_ms.get("p99"), share=floor_p50 / p50)


def _flags(measured: Phase, warmup: Phase, users: int, res: Resources | None,
           rows_sent: int, rows_server: float | None, bound: bool, slack: int = 0,
           check_counts: bool = True, client: ClientShare | None = None,
           drain_seen: bool = True) -> list[str]:
    """`slack`: rows the two counts may differ by either way (requests in flight at a window's
    edges, for a generator that cannot drain: a request the server counted before the window
    opened can be answered inside it, and one counted inside it answered after it closed).
    `drain_seen`: whether the phases' ends could be judged at all (see Generator.drains)."""
    flags = []
    if bound:
        flags.append("generator_bound")
    if client is not None and client.share > CLIENT_SHARE_PERCENT / 100:
        flags.append("client_bound")
    if not drain_seen:
        flags.append("drain_unknown")
    elif not (measured.drained and warmup.drained):
        flags.append("not_drained")
    if not check_counts:
        pass  # the floor predicts nothing: there is no server counter to agree with
    elif rows_server is None:
        flags.append("no_server_metrics")
    elif abs(rows_server - rows_sent) > slack:
        flags.append("count_mismatch")
    if measured.users < users:
        flags.append("users_short")
    if measured.failures:
        flags.append("failures")
    if res is None:
        flags.append("no_resource_samples")
    else:
        flags += contention_flags(res)
    return flags


def closed_plan(session: Session, workload: str, seed: str, settings: MeasureSettings,
                window_s: float | None = None) -> ClosedPlan:
    stack = session.server.stack
    return ClosedPlan(traffic=payloads.traffic(WORKLOADS[workload], stack, session.model.payload, seed,
                                               session.model.schema),
                      host=session.server.url, metrics_url=session.server.url_for("metrics"),
                      warmup_s=settings.warmup_s, measure_s=settings.measure_s,
                      drain_timeout_s=settings.drain_timeout_s, window_s=window_s)


def output_of(driven: Driven) -> ClosedOutput:
    if not isinstance(driven.output, ClosedOutput):
        raise MeasurementFailed(f"{driven.raw_dir.name}: load generator gave {driven.failure or 'no result'}",
                                driven.log_tail)
    return driven.output


def measure(session: Session, generator: Generator, workload: str, users: int, repeat: int,
            settings: MeasureSettings, run_root: Path, floor: Record | None = None,
            check_counts: bool = True) -> Record:
    """One measurement; `floor`: the floor's record at the same generator, workload and users,
    for the harness's share of the latency; `check_counts` off for the floor itself."""
    server = session.server
    record_id = f"{server.stack.name}__{workload}__u{users}__r{repeat}"
    window_s = settings.measure_s / TIMELINE_WINDOWS if generator.windows else None
    plan = closed_plan(session, workload, f"{workload}-{users}-{repeat}", settings, window_s)
    driven = generator.closed(plan, users, settings.generator, run_root / generator.name / record_id,
                              sampling.server_source(server))
    held = memory(server.processes())  # right after the phase, before the next one starts
    out = output_of(driven)
    warmup, measured = phase(out.phases["warmup"], settings.warmup_s), phase(out.phases["measured"],
                                                                               settings.measure_s)
    window = out.phases["measured"]
    # CPU and memory while every user was sending: from the gate opening to its closing.
    res = resources(driven.samples, driven.cpu_samples, window.opened_at, window.paused_at,
                    settings.generator.load_cpus, server.cpus, isinstance(server, ExternalServer))
    metrics = (server_metrics.delta(out.metrics_before, out.metrics_after)
               if out.metrics_before is not None and out.metrics_after is not None else None)
    rows_sent = sum(measured.kinds[k].rows for k in PREDICTION_KINDS if k in measured.kinds)
    rows_server = server_metrics.success_rows(metrics) if metrics else None
    processes = [GeneratorProcess(node=load.node, host=load.host, cpu_percent=load.cpu_percent)
                 for load in window.loads]
    # A busy generator process seen here (sampled) or reported by itself (a remote worker).
    bound = (res is not None and res.generator_max_process_cpu_percent > GENERATOR_BOUND_PERCENT) or any(
        p.cpu_percent > GENERATOR_BOUND_PERCENT for p in processes)
    client = client_share(measured, floor)
    # A stack that declares no ml_* metrics has no counter to agree with (and maybe no /metrics).
    counted = server.stack.deviation_for("ml_metrics") is None
    return Record(
        record_id=record_id, stack=server.stack.name, workload=workload, users=users, repeat=repeat,
        knobs=dict(server.stack.knobs), command=server.command(), generator=generator.name,
        generator_commands=driven.commands, locust_workers=settings.generator.workers,
        time_to_ready_s=session.ready_s, shutdown_s=None, warmup=warmup, measured=measured,
        resources=res, server_metrics=metrics, generator_bound=bound,
        flags=_flags(measured, warmup, users, res, rows_sent, rows_server, bound, driven.slack_rows,
                     check_counts and counted, client, drain_seen=generator.drains or counted),
        rows_sent=rows_sent, rows_server=rows_server, raw_dir=str(driven.raw_dir.relative_to(run_root)),
        client=client, generator_processes=processes, replicas=window.replicas, memory=held,
        timeline=timeline(window, window_s, driven.samples),
    )
