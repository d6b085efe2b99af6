"""Closed-loop load from wrk, a native HTTP benchmark, for where a Python generator is the limit.

Locust on one core tops out at a few thousand requests a second once it times and checks every
answer, which is below what uvicorn answers on one core (the framework ceiling). wrk, with one
thread and `users` connections, runs the same closed loop (each connection sends its next
request as soon as the previous answer is in) at a fraction of the CPU.

A Lua script, rendered per measurement, cycles through the plan's pre-built requests and, when wrk
is done, writes every latency wrk recorded, as (microseconds, count) pairs read back rank by
rank through wrk's percentile function: the record carries the same exact HdrHistogram as a
Locust record. Phases are separate wrk runs (warm-up, then measured); between them the server
is left to finish what was in flight (its prediction counter stops moving) before /metrics is
scraped, so the counter delta covers the measured phase's requests and at most one in-flight
request per connection cut off when wrk stopped.

What wrk does not do: check answers (the run verified them against the golden cases before any
load, and the server's counter is compared with wrk's count), or tell failed from successful
latencies (non-2xx answers are counted as failures; their times are in the one histogram).
Only workloads of one request kind can be driven by wrk. Batches of varying size are sent in
the pool's order, so the rows of the first N requests are known; the server's counter may count
up to one request per connection more (those cut off in flight).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from hdrh.histogram import HdrHistogram

from loadtests.generators.base import Driven, GeneratorSettings, Loop
from loadtests.plans import (
    ClosedOutput,
    ClosedPlan,
    KindTallyData,
    OpenPlan,
    PhaseOutput,
    PlannedRequest,
    TallyData,
)
from loadtests.sampling import CpuSample, Sample, Sampler, Source
from loadtests.server_metrics import delta, scrape, success_rows
from loadtests.workloads import Workload
from servebench.results.histogram import encode, new_histogram
from servers.process import tail

SETTLE_POLL_S = 0.05
TIMEOUT_S = 60  # a request slower than this counts as a timeout (Locust's network timeout too)

_SCRIPT = """-- rendered by loadtests/generators/wrk.py
local requests, i = {}, 0
local planned = {%(requests)s}

init = function(args)
  for k, r in ipairs(planned) do
    requests[k] = wrk.format(r[1], r[2], r[4], r[3] ~= "" and r[3] or nil)
  end
end

request = function()
  i = i %% #requests + 1
  return requests[i]
end

done = function(summary, latency, _)
  local e = summary.errors
  local n = summary.requests - e.timeout
  local f = assert(io.open("%(out)s", "w"))
  f:write(string.format('{"requests":%%d,"duration_us":%%d,"errors":{"connect":%%d,"read":%%d,' ..
    '"write":%%d,"status":%%d,"timeout":%%d},"latency_us":[', summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout))
  local prev, run, sep = nil, 0, ""
  for k = 1, n do  -- the k-th smallest latency: wrk's rank is round(p/100 * count + 0.5)
    local v = latency:percentile(100 * (k - 0.5) / n)
    if v == prev then run = run + 1 else
      if prev then f:write(sep, "[", prev, ",", run, "]"); sep = "," end
      prev, run = v, 1
    end
  end
  if prev then f:write(sep, "[", prev, ",", run, "]") end
  f:write("]}")
  f:close()
end
"""


def _lua_string(text: str) -> str:
    return f"[==[{text}]==]"


def script(pool: Sequence[PlannedRequest], out: Path) -> str:
    """The Lua script for one wrk run: cycle through the pool in order, write every latency."""
    def entry(r: PlannedRequest) -> str:
        headers = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}"
                            for k, v in {**r.headers, "Accept": "application/json"}.items())
        return (f"{{{_lua_string(r.method)}, {_lua_string(r.path)}, {_lua_string(r.body)}, "
                + (f"{{{headers}}}" if r.body else "nil") + "}")
    return _SCRIPT % {"requests": ", ".join(entry(r) for r in pool), "out": str(out)}


def whole_seconds(seconds: float) -> int:
    """wrk's --duration takes whole seconds (at least one): the run is given the next whole
    second and interrupted at `seconds` (see run_phase)."""
    return max(1, math.ceil(seconds))


def histogram(pairs: Sequence[Sequence[int]]) -> HdrHistogram:
    h = new_histogram()
    for value_us, count in pairs:
        h.record_value(max(1, int(value_us)), int(count))
    return h


def rows_of_first(pool: Sequence[PlannedRequest], count: int) -> int:
    """Rows asked for by the first `count` requests of a run, which cycles through the pool."""
    rows = [r.rows for r in pool]
    cycles, rest = divmod(count, len(rows))
    return cycles * sum(rows) + sum(rows[:rest])


def _rows(text: str | None) -> float | None:
    return None if text is None else success_rows(delta("", text))  # totals: the delta from zero


def settle(metrics_url: str, timeout_s: float) -> tuple[str | None, bool]:
    """Wait until the server's success counter stops moving; (its metrics text, settled)."""
    deadline = time.monotonic() + timeout_s
    text = scrape(metrics_url)
    rows = _rows(text)
    while time.monotonic() < deadline:
        time.sleep(SETTLE_POLL_S)
        again = scrape(metrics_url)
        if again is None:
            return None, False
        rows_again = _rows(again)
        if rows_again == rows:
            return again, True
        text, rows = again, rows_again
    return text, False


@dataclass
class _Run:
    command: list[str]
    result: dict[str, Any] | None
    started_at: float
    ended_at: float
    exit_code: int | None
    samples: dict[str, list[Sample]]
    cpu_samples: list[CpuSample]


def run_phase(settings: GeneratorSettings, url: str, users: int, duration_s: float,
              script_path: Path, out: Path, log: Path, server: Source) -> _Run:
    """One wrk run: `users` connections for `duration_s`, sampling wrk and the server.

    A phase shorter than a whole second (a 0.5 s warm-up) is a run of the next whole second
    that gets SIGINT at `duration_s`: wrk stops its connections, reports and calls the
    script's done() just as at the end of its duration, and the duration it reports is the
    one it ran."""
    seconds = whole_seconds(duration_s)
    argv = settings.pin(["wrk", "--threads", "1", "--connections", str(users),
                         "--duration", f"{seconds}s", "--timeout", f"{TIMEOUT_S}s",
                         "--script", str(script_path), url])
    handle: list[psutil.Process] = []

    def generator() -> list[psutil.Process]:
        return [h for h in handle if h.is_running()]

    with Sampler({"server": server, "generator": generator}) as sampler, open(log, "ab") as sink:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
        handle.append(psutil.Process(proc.pid))
        started = time.time()
        if duration_s < seconds:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=duration_s)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        try:
            code: int | None = proc.wait(timeout=seconds + TIMEOUT_S + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
    # The usage window is while wrk ran: CPU is read from samples that saw its process alive.
    ended = min(time.time(), started + duration_s)
    result = json.loads(out.read_text()) if out.exists() else None
    return _Run(argv, result, started, ended, code, sampler.samples, sampler.cpus)


def _phase(run: _Run, result: dict[str, Any], pool: Sequence[PlannedRequest], users: int,
           drained: bool) -> PhaseOutput:
    errors = result["errors"]
    failures = {f"transport_{k}": v for k, v in errors.items() if k != "status" and v}
    if errors["status"]:
        failures["status_not_2xx"] = errors["status"]
    ok = result["requests"] - errors["status"]
    seconds = result["duration_us"] / 1e6
    kind = KindTallyData(requests=result["requests"] + errors["connect"], rows=rows_of_first(pool, ok),
                         failures=failures, histogram=encode(histogram(result["latency_us"])),
                         failed_histogram=encode(new_histogram()))
    tally = TallyData(kinds={pool[0].kind: kind}, first_start=run.started_at,
                      last_end=run.started_at + seconds)
    return PhaseOutput(tally=tally, opened_at=run.started_at, users=users, paused_at=run.ended_at,
                       drained_at=time.time(), windows=None, processes=1, expected_processes=1,
                       drained=drained)


class Wrk:
    name = "wrk"
    description = ("wrk, one thread, one connection per user, cycling through pre-built requests; "
                   "it cannot check answers (verified before any load) and cannot drain")
    loops: tuple[Loop, ...] = ("closed",)
    windows = False  # it hands over its latencies once, at the end of a run
    drains = False  # settle() watches the server's counter instead

    def unavailable(self) -> str | None:
        if shutil.which("wrk") is None:
            return "wrk is not installed: `make sysdeps` installs it (Debian package wrk)"
        return None

    def unsupported(self, workload: Workload) -> str | None:
        if len(workload.mix) != 1:
            return (f"wrk drives workloads of one request kind; {workload.name!r} is a mix: use the "
                    "locust generator for it")
        return None

    def closed(self, plan: ClosedPlan, users: int, settings: GeneratorSettings, raw_dir: Path,
               server: Source, uss_every_s: float | None = None) -> Driven:
        if plan.window_s is not None or plan.user_rps is not None:
            raise ValueError("wrk cannot pace users or cut a phase into windows")
        (entry,) = plan.traffic.mix
        pool = plan.traffic.pool[entry.kind]
        raw_dir.mkdir(parents=True, exist_ok=False)
        log = raw_dir / "wrk.log"
        runs: list[_Run] = []
        phases: list[PhaseOutput] = []
        texts: list[str | None] = []  # /metrics once the server settled after each phase
        for name, seconds in (("warmup", plan.warmup_s), ("measured", plan.measure_s)):
            out = raw_dir / f"{name}.json"
            script_path = raw_dir / f"{name}.lua"
            script_path.write_text(script(pool, out))
            run = run_phase(settings, plan.host, users, seconds, script_path, out, log, server)
            text, drained = settle(plan.metrics_url, plan.drain_timeout_s)
            runs.append(run)
            if run.result is None:
                failure = "timed out" if run.exit_code is None else f"no result (exit {run.exit_code})"
                return Driven(None, [r.command for r in runs], raw_dir, failure, tail(log))
            phases.append(_phase(run, run.result, pool, users, drained))
            texts.append(text)
        output = ClosedOutput(phases={"warmup": phases[0], "measured": phases[1]}, metrics_before=texts[0],
                              metrics_after=texts[1])
        measured = runs[1]
        return Driven(output, [r.command for r in runs], raw_dir, samples=measured.samples,
                      cpu_samples=measured.cpu_samples, slack_rows=users * max(r.rows for r in pool))

    def open(self, plan: OpenPlan, settings: GeneratorSettings, raw_dir: Path,
             server: Source) -> Driven:
        raise ValueError("wrk cannot send on a schedule (open loop)")
