"""One measurement (stack x workload x users x repeat): run the load generator (Locust, or wrk
where Locust would be the limit) and turn its output into a Record."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtests import sampling, server_metrics, wrk_generator
from loadtests.generator import GeneratorSettings, run_locust
from loadtests.recording import RESOLUTION, PhaseTally, add, encode, new_histogram, percentiles_ms
from loadtests.sampling import CpuSample, Sample
from loadtests.workloads import PREDICTION_KINDS, Step
from servebench.results.schema import KindStats, Latency, Phase, Record, Resources
from servers.process import ServerProcess, tail
from shared_model.cases import GoldenCase

# Other processes' share of the pinned CPUs (percent of one core) above which a measurement is
# flagged: on a shared machine the server or Locust may not have had its CPUs to itself.
CONTENTION_PERCENT = 20.0


class MeasurementFailed(RuntimeError):
    """Locust produced no result; carries the tail of its log."""

    def __init__(self, reason: str, log_tail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.log_tail = log_tail


@dataclass(frozen=True)
class MeasureSettings:
    warmup_s: float
    measure_s: float
    drain_timeout_s: float
    generator: GeneratorSettings
    generator_bound_percent: float = 90.0


def latency(histogram: HdrHistogram) -> Latency:
    return Latency(resolution=RESOLUTION, count=histogram.get_total_count(),
                   histogram=encode(histogram), percentiles_ms=percentiles_ms(histogram))


def phase(data: dict[str, Any], nominal_s: float) -> Phase:
    tally = PhaseTally()
    tally.merge(data["tally"])
    combined, combined_failed = new_histogram(), new_histogram()
    failures: Counter[str] = Counter()
    kinds = {}
    for kind, kt in sorted(tally.kinds.items()):
        add(combined, kt.histogram)
        add(combined_failed, kt.failed_histogram)
        failures.update(kt.failures)
        kinds[kind] = KindStats(requests=kt.requests, rows=kt.rows, failures=dict(kt.failures),
                                latency=latency(kt.histogram), failed_latency=latency(kt.failed_histogram))
    requests = sum(k.requests for k in kinds.values())
    duration = (tally.last_end - tally.first_start) if tally.first_start and tally.last_end else 0.0
    ok = requests - sum(failures.values())
    return Phase(users=data["users"], nominal_s=nominal_s, duration_s=duration,
                 drained=data["drained"], requests=requests, failures=dict(failures),
                 rps=ok / duration if duration > 0 else 0.0, latency=latency(combined),
                 failed_latency=latency(combined_failed), kinds=kinds)


def resources(samples: dict[str, list[Sample]], cpu_samples: Sequence[CpuSample], start: float,
              end: float, settings: GeneratorSettings, server_cpus: Sequence[int] | None
              ) -> Resources | None:
    server = sampling.usage(samples.get("server", []), start, end)
    generator = sampling.usage(samples.get("generator", []), start, end)
    if server is None or generator is None:
        return None
    busy = {name: sampling.cpus_busy(cpu_samples, cpus, start, end) if cpus else None
            for name, cpus in (("server", server_cpus), ("load", settings.load_cpus))}
    return Resources(
        server_cpu_percent=server.cpu_percent, server_rss_mb=server.rss_max_bytes / 2**20,
        server_processes=server.processes, generator_cpu_percent=generator.cpu_percent,
        generator_max_process_cpu_percent=generator.max_process_cpu_percent,
        server_cpus_busy_percent=busy["server"], load_cpus_busy_percent=busy["load"],
        samples=min(server.samples, generator.samples),
    )


def _flags(measured: Phase, warmup: Phase, users: int, res: Resources | None,
           rows_locust: int, rows_server: float | None, bound: bool, slack: int = 0) -> list[str]:
    """`slack`: rows the server may have predicted beyond the generator's count (requests in
    flight when a generator that cannot drain stopped)."""
    flags = []
    if bound:
        flags.append("generator_bound")
    if not (measured.drained and warmup.drained):
        flags.append("not_drained")
    if rows_server is None:
        flags.append("no_server_metrics")
    elif not 0 <= rows_server - rows_locust <= slack:
        flags.append("count_mismatch")
    if measured.users < users:
        flags.append("users_short")
    if measured.failures:
        flags.append("failures")
    if res is None:
        flags.append("no_resource_samples")
    else:
        for name, busy, own in (("server", res.server_cpus_busy_percent, res.server_cpu_percent),
                                ("load", res.load_cpus_busy_percent, res.generator_cpu_percent)):
            if busy is not None and busy - own > CONTENTION_PERCENT:
                flags.append(f"{name}_cpu_contention")
    return flags


def locust_plan(server: ServerProcess, workload: str, seed: str, golden: Sequence[GoldenCase],
                settings: MeasureSettings, **extra: Any) -> dict[str, Any]:
    """What the locustfile reads: the phases, the stack's paths and the golden payloads."""
    return {
        "workload": workload, "warmup_s": settings.warmup_s, "measure_s": settings.measure_s,
        "drain_timeout_s": settings.drain_timeout_s, "paths": dict(server.stack.paths),
        "host": server.url, "seed": seed,
        "golden": [{"request": case.request, "prediction": case.prediction} for case in golden],
        **extra,
    }


@dataclass(frozen=True)
class _Taken:
    """What either generator hands over for one measurement."""

    warmup: Phase
    measured: Phase
    resources: Resources | None
    metrics_before: str | None  # /metrics at the phase boundaries
    metrics_after: str | None
    commands: list[list[str]]
    raw_dir: Path
    slack: int = 0  # rows the server may count beyond the generator's (wrk cannot drain)


def measure(server: ServerProcess, workload: str, users: int, repeat: int, golden: Sequence[GoldenCase],
            settings: MeasureSettings, run_root: Path, time_to_ready_s: float) -> Record:
    record_id = f"{server.stack.name}__{workload}__u{users}__r{repeat}"
    take = _take_wrk if settings.generator.tool == "wrk" else _take_locust
    taken = take(server, workload, users, repeat, golden, settings, run_root / settings.generator.tool
                 / record_id)
    measured, warmup, res = taken.measured, taken.warmup, taken.resources
    before, after = taken.metrics_before, taken.metrics_after
    metrics = server_metrics.delta(before, after) if before is not None and after is not None else None
    rows_generator = sum(measured.kinds[k].rows for k in PREDICTION_KINDS if k in measured.kinds)
    rows_server = server_metrics.success_rows(metrics) if metrics else None
    bound = res is not None and res.generator_max_process_cpu_percent > settings.generator_bound_percent
    return Record(
        record_id=record_id, stack=server.stack.name, workload=workload, users=users, repeat=repeat,
        knobs=dict(server.stack.knobs), command=server.command(), generator=settings.generator.tool,
        locust_commands=taken.commands, locust_workers=settings.generator.workers,
        time_to_ready_s=time_to_ready_s, shutdown_s=None, warmup=warmup, measured=measured,
        resources=res, server_metrics=metrics, generator_bound=bound,
        flags=_flags(measured, warmup, users, res, rows_generator, rows_server, bound, taken.slack),
        rows_locust=rows_generator, rows_server=rows_server,
        raw_dir=str(taken.raw_dir.relative_to(run_root)),
    )


def _take_locust(server: ServerProcess, workload: str, users: int, repeat: int,
                 golden: Sequence[GoldenCase], settings: MeasureSettings, raw_dir: Path) -> _Taken:
    plan = locust_plan(server, workload, f"{workload}-{users}-{repeat}", golden, settings)
    run = run_locust(plan, users, settings.generator, raw_dir, server.processes)
    if run.output is None:
        logs = sorted(raw_dir.glob("*.log"))
        reason = ("load generator timed out" if run.timed_out else
                  f"load generator gave no result (exit codes {run.exit_codes})")
        raise MeasurementFailed(f"{raw_dir.name}: {reason}", tail(logs[0]) if logs else "")
    out = run.output
    measured_data = out["phases"]["measured"]
    # CPU and memory while every user was sending: from the gate opening to its closing.
    res = resources(run.samples, run.cpu_samples, measured_data["opened_at"],
                    measured_data["paused_at"], settings.generator, server.cpus)
    return _Taken(phase(out["phases"]["warmup"], settings.warmup_s),
                  phase(measured_data, settings.measure_s), res, out["metrics_before"],
                  out["metrics_after"], run.commands, raw_dir)


def _take_wrk(server: ServerProcess, workload: str, users: int, repeat: int,
              golden: Sequence[GoldenCase], settings: MeasureSettings, raw_dir: Path) -> _Taken:
    step = wrk_generator.single_step(workload)
    raw_dir.mkdir(parents=True, exist_ok=False)
    payloads = wrk_generator.bodies(step, [case.request for case in golden], f"{workload}-{users}-{repeat}")
    metrics_url = server.url + server.stack.paths["metrics"]
    log = raw_dir / "wrk.log"
    runs: list[wrk_generator.WrkPhase] = []
    phases: list[Phase] = []
    texts: list[str | None] = []  # /metrics once the server settled after each phase
    for name, seconds in (("warmup", settings.warmup_s), ("measured", settings.measure_s)):
        out = raw_dir / f"{name}.json"
        script_path = raw_dir / f"{name}.lua"
        script_path.write_text(wrk_generator.script(step, dict(server.stack.paths), payloads, out))
        run = wrk_generator.run_phase(settings.generator, server.url, users, seconds, script_path,
                                      out, log, server.processes)
        text, drained = wrk_generator.settle(metrics_url, settings.drain_timeout_s)
        if run.result is None:
            reason = ("wrk timed out" if run.exit_code is None else
                      f"wrk gave no result (exit {run.exit_code})")
            raise MeasurementFailed(f"{raw_dir.name}: {reason}", tail(log))
        runs.append(run)
        phases.append(_wrk_phase(run.result, step, users, wrk_generator.whole_seconds(seconds), drained))
        texts.append(text)
    measured_run = runs[1]
    res = resources(measured_run.samples, measured_run.cpu_samples, measured_run.started_at,
                    measured_run.ended_at, settings.generator, server.cpus)
    return _Taken(phases[0], phases[1], res, texts[0], texts[1], [run.command for run in runs],
                  raw_dir, slack=users * wrk_generator.rows_per_request(step))


def _wrk_phase(result: dict[str, Any], step: Step, users: int, nominal_s: float,
               drained: bool) -> Phase:
    errors = result["errors"]
    failures = {f"transport_{k}": v for k, v in errors.items() if k != "status" and v}
    if errors["status"]:
        failures["status_not_2xx"] = errors["status"]
    requests = result["requests"] + errors["connect"]
    ok = result["requests"] - errors["status"]
    seconds = result["duration_us"] / 1e6
    times = latency(wrk_generator.histogram(result["latency_us"]))
    empty = latency(new_histogram())
    kind = KindStats(requests=requests, rows=ok * wrk_generator.rows_per_request(step),
                     failures=failures, latency=times, failed_latency=empty)
    return Phase(users=users, nominal_s=nominal_s, duration_s=seconds, drained=drained,
                 requests=requests, failures=failures, rps=ok / seconds if seconds > 0 else 0.0,
                 latency=times, failed_latency=empty, kinds={step.kind: kind})
