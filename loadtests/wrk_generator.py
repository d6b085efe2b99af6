"""Closed-loop load from wrk, a native HTTP benchmark, for where a Python generator is the limit.

Locust on one core tops out at a few thousand requests a second once it times and checks every
answer, which is below what uvicorn answers on one core (the framework ceiling). wrk, with one
thread and `users` connections, runs the same closed loop (each connection sends its next
request as soon as the previous answer is in) at a fraction of the CPU.

A Lua script, rendered per measurement, cycles through pre-built golden requests and, when wrk
is done, writes every latency wrk recorded, as (microseconds, count) pairs read back rank by
rank through wrk's percentile function: the record carries the same exact HdrHistogram as a
Locust record. Phases are separate wrk runs (warm-up, then measured); between them the server
is left to finish what was in flight (its prediction counter stops moving) before /metrics is
scraped, so the counter delta covers the measured phase's requests and at most one in-flight
request per connection cut off when wrk stopped.

What wrk does not do: check answers (the run verified them against the golden cases before any
load, and the server's counter is compared with wrk's count), or tell failed from successful
latencies (non-2xx answers are counted as failures; their times are in the one histogram).
Only workloads of one request kind with a fixed number of rows can be driven by wrk.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from hdrh.histogram import HdrHistogram

from loadtests.generator import GeneratorSettings
from loadtests.recording import new_histogram
from loadtests.sampling import CpuSample, ProcessSource, Sample, Sampler
from loadtests.server_metrics import delta, scrape, success_rows
from loadtests.workloads import PATH_OF, PREDICTION_KINDS, WORKLOADS, Step, batch_body

PAYLOADS = 64  # distinct pre-built requests wrk cycles through
SETTLE_POLL_S = 0.05
TIMEOUT_S = 60  # a request slower than this counts as a timeout (Locust's network timeout too)

_SCRIPT = """-- rendered by loadtests/wrk_generator.py
local requests, i = {}, 0
local method, path = "%(method)s", "%(path)s"
local bodies = {%(bodies)s}

init = function(args)
  local headers = {["Content-Type"] = "application/json", ["Accept"] = "application/json"}
  for k, body in ipairs(bodies) do
    requests[k] = wrk.format(method, path, body ~= "" and headers or nil, body ~= "" and body or nil)
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


class WrkUnsupported(ValueError):
    """The workload mixes kinds or row counts, which wrk cannot account for."""


def available() -> bool:
    return shutil.which("wrk") is not None


def single_step(workload: str) -> Step:
    mix = WORKLOADS[workload].mix
    if len(mix) != 1 or mix[0].batch_min != mix[0].batch_max:
        raise WrkUnsupported(f"wrk drives only one-kind workloads with fixed rows; {workload!r} "
                             "is a mix: use the locust generator for it")
    return mix[0]


def rows_per_request(step: Step) -> int:
    return step.batch_min if step.kind in PREDICTION_KINDS else 0


def bodies(step: Step, golden: Sequence[dict[str, Any]], seed: str) -> list[bytes]:
    """Pre-built request bodies from the golden requests, reproducible from the seed (empty
    for GET probes)."""
    if step.kind not in PREDICTION_KINDS:
        return [b""]
    pick = random.Random(seed)
    requests = [json.dumps(request).encode() for request in golden]
    if step.kind == "single":
        return [pick.choice(requests) for _ in range(PAYLOADS)]
    return [batch_body(pick.choice(requests) for _ in range(step.batch_min)) for _ in range(PAYLOADS)]


def script(step: Step, paths: dict[str, str], payloads: Sequence[bytes], out: Path) -> str:
    path = paths[PATH_OF[step.kind]]
    lua_bodies = ", ".join(f"[==[{b.decode()}]==]" for b in payloads)
    method = "POST" if step.kind in PREDICTION_KINDS else "GET"
    return _SCRIPT % {"method": method, "path": path, "bodies": lua_bodies, "out": str(out)}


def whole_seconds(seconds: float) -> int:
    """wrk's --duration takes whole seconds (at least one)."""
    return max(1, round(seconds))


def histogram(pairs: Sequence[Sequence[int]]) -> HdrHistogram:
    h = new_histogram()
    for value_us, count in pairs:
        h.record_value(max(1, int(value_us)), int(count))
    return h


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
class WrkPhase:
    command: list[str]
    result: dict[str, Any] | None
    started_at: float
    ended_at: float
    exit_code: int | None
    samples: dict[str, list[Sample]]
    cpu_samples: list[CpuSample]


def run_phase(settings: GeneratorSettings, url: str, users: int, duration_s: float,
              script_path: Path, out: Path, log: Path, server: ProcessSource) -> WrkPhase:
    """One wrk run: `users` connections for `duration_s`, sampling wrk and the server."""
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
        try:
            code: int | None = proc.wait(timeout=seconds + TIMEOUT_S + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
    # The usage window is while wrk ran: CPU is read from samples that saw its process alive.
    ended = min(time.time(), started + seconds)
    result = json.loads(out.read_text()) if out.exists() else None
    return WrkPhase(argv, result, started, ended, code, sampler.samples, sampler.cpus)
