"""Scarce resources: a running stack held to a low open-files limit, then to a memory limit,
and loaded until it hits them.

How the limits are set: a cgroup (the v2 memory controller, or `systemd-run --scope -p
MemoryMax=`) would cap the resident memory of the stack's processes together, as a container
runtime does; where neither is available (on the machine this was built on, /sys/fs/cgroup is
cgroup v1 with no v2 memory controller and there is no systemd), the limits are per-process
rlimits set with prlimit(2) on every process of the running stack once it is ready:

    RLIMIT_NOFILE  the descriptors each process holds idle, plus FD_MARGIN
    RLIMIT_AS      each process's idle address space (what it has mapped, a little more than
                   what it touches), plus MEMORY_MARGIN_MIB: new mappings past it fail, as
                   allocations past a cgroup's limit would

Each is loaded by concurrent clients (golden predictions; for memory, alternated with
nearly 1 MiB bad bodies, which every stack reads whole before refusing), in steps, until
answers fail. What is recorded: what the clients saw (answers, error statuses, resets,
connections closed, hangs), whether the stack recovers once the load stops (ready again and
a golden answer), and whether anything was lost silently: a wrong answer, a request neither
answered nor counted as an error by the stack's own metrics, or a prediction the stack counted
as made that no client received.

Timeouts are relative to the stack's own baseline measured in the same run.
"""

from __future__ import annotations

import resource
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from loadtests import server_metrics
from loadtests.rawhttp import NoAnswer, RawConnection, RawResponse, request_head
from loadtests.verify import answer_problem
from servebench.results.kinds import LimitResult, LimitStep
from servers.process import ServerProcess
from servers.protocols import NativeRequest, NotAnAnswer
from shared_model.cases import SEED_EXAMPLE, GoldenCase

FD_MARGIN = 16  # descriptors each process may open beyond those it holds idle
MEMORY_MARGIN_MIB = 32  # address space each process may map beyond its idle size
FD_CLIENTS = (4 * FD_MARGIN,)  # four times what fits: the limit is certain to be reached
MEMORY_CLIENTS = (8, 32, 64)  # steps, until answers fail
ROUNDS = 1  # requests (memory: pairs of requests) per client and step
# A request is hung past this many times the time its step's requests would take one after
# the other at the stack's baseline.
HANG_FACTOR = 3
BIG_STRING = 900 * 1024  # a bad row's string field: the body stays under the contract's 1 MiB
BASELINE_SAMPLES = 5

# Sends one request on the connection; returns its outcome and whether the connection is
# still usable for the next one.
Exchange = Callable[[RawConnection], tuple[str, bool]]
KEPT = ("ok", "refused_as_bad")  # outcomes that are no failure


def limit_method() -> str:
    """How limits are set here, and why not with a cgroup."""
    controllers = Path("/sys/fs/cgroup/cgroup.controllers")
    if controllers.exists() and "memory" in controllers.read_text().split():
        why = "a cgroup v2 memory controller exists but is not used: the limits stay per process"
    elif controllers.exists():
        why = "the cgroup v2 hierarchy offers no memory controller"
    else:
        why = "/sys/fs/cgroup is not a cgroup v2 hierarchy"
    systemd = Path("/run/systemd/system").exists()
    return f"prlimit(2) on every process of the stack ({why}; systemd-run: " \
           f"{'available' if systemd else 'no systemd'})"


@dataclass(frozen=True)
class _Load:
    server: ServerProcess
    golden: Sequence[GoldenCase]

    def native(self, index: int) -> NativeRequest:
        row = self.golden[index % len(self.golden)].request
        return self.server.stack.protocol.request([row], False, self.server.stack.paths)

    def whole(self, native: NativeRequest) -> bytes:
        headers = {**native.headers, "Content-Length": str(len(native.body))}
        return request_head(native.method, native.path, self.server.host, headers) + native.body

    def big(self) -> NativeRequest:
        """A bad row nearly 1 MiB long in the stack's protocol: read whole, then refused."""
        row = {**SEED_EXAMPLE, "contract_type": "x" * BIG_STRING}
        return self.server.stack.protocol.request([row], False, self.server.stack.paths)


def _golden_exchange(load: _Load, index: int, timeout_s: float) -> Exchange:
    request = load.whole(load.native(index))

    def exchange(connection: RawConnection) -> tuple[str, bool]:
        connection.send(request)
        answer = connection.read_response(timeout_s)
        if isinstance(answer, NoAnswer):
            return answer.ending, False
        if answer.status != 200:
            return f"status_{answer.status}", not answer.closes
        try:
            (found,) = load.server.stack.protocol.answers(answer.body, 1, False)
        except NotAnAnswer:
            return "wrong_answer", not answer.closes
        right = answer_problem(found, load.golden[index % len(load.golden)]) is None
        return "ok" if right else "wrong_answer", not answer.closes

    return exchange


def _big_exchange(load: _Load, timeout_s: float) -> Exchange:
    request = load.whole(load.big())

    def exchange(connection: RawConnection) -> tuple[str, bool]:
        connection.upload(request)
        answer = connection.read_response(timeout_s)
        if isinstance(answer, NoAnswer):
            return answer.ending, False
        outcome = "refused_as_bad" if 400 <= answer.status < 500 else f"status_{answer.status}"
        return outcome, not answer.closes

    return exchange


def _client(load: _Load, exchanges: Sequence[Exchange], timeout_s: float, tally: Counter[str],
            lock: threading.Lock) -> None:
    """Each exchange in turn on a kept-alive connection, reconnecting after any failure."""
    connection: RawConnection | None = None
    for exchange in exchanges:
        usable = False
        try:
            if connection is None:
                connection = RawConnection(load.server.host, load.server.port, timeout_s)
            outcome, usable = exchange(connection)
        except ConnectionRefusedError:
            outcome = "refused"
        except TimeoutError:
            outcome = "timeout"  # the connection itself was not accepted in time
        except OSError:
            outcome = "reset"
        with lock:
            tally[outcome] += 1
        if not usable and connection is not None:
            connection.close()
            connection = None
    if connection is not None:
        connection.close()


def _step(load: _Load, clients: int, plan: Callable[[int], list[Exchange]], timeout_s: float) -> LimitStep:
    tally: Counter[str] = Counter()
    lock = threading.Lock()
    threads = [threading.Thread(target=_client, args=(load, plan(c), timeout_s, tally, lock))
               for c in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = sum(len(plan(c)) for c in range(clients))
    return LimitStep(clients=clients, requests=sent, outcomes=dict(tally),
                     seconds=round(time.perf_counter() - started, 2), timeout_s=round(timeout_s, 3))


def _baseline(load: _Load, native: NativeRequest) -> float:
    """Median seconds of `native` alone, on a new connection each time."""
    request = load.whole(native)
    times = []
    for _ in range(BASELINE_SAMPLES):
        started = time.perf_counter()
        with RawConnection(load.server.host, load.server.port, 30.0) as connection:
            connection.upload(request)
            answer = connection.read_response()
        if isinstance(answer, RawResponse):
            times.append(time.perf_counter() - started)
    return statistics.median(times) if times else 1.0


Limits = dict[int, tuple[int, int]]  # pid -> (soft, hard)


def _set(processes: Sequence[psutil.Process], which: int, limits: Limits) -> dict[int, int]:
    """Apply per-process limits; returns the limit each process got (processes gone are skipped)."""
    applied = {}
    for process in processes:
        if process.pid in limits:
            try:
                resource.prlimit(process.pid, which, limits[process.pid])
                applied[process.pid] = limits[process.pid][0]
            except (ProcessLookupError, PermissionError, ValueError):
                continue
    return applied


def _previous(processes: Sequence[psutil.Process], which: int) -> Limits:
    found = {}
    for process in processes:
        try:
            found[process.pid] = resource.prlimit(process.pid, which)
        except (ProcessLookupError, PermissionError):
            continue
    return found


def settled_processes(server: ServerProcess, polls: int = 50, every_s: float = 0.1) -> list[psutil.Process]:
    """The stack's processes once their number holds for three polls in a row: a server can be
    ready before all its workers have started (gunicorn forks them after it listens)."""
    seen: list[int] = []
    processes = server.processes()
    for _ in range(polls):
        processes = server.processes()
        seen.append(len(processes))
        if len(seen) >= 3 and len(set(seen[-3:])) == 1:
            break
        time.sleep(every_s)
    return processes


def _idle(processes: Sequence[psutil.Process], measure: Callable[[psutil.Process], int]) -> dict[int, int]:
    found = {}
    for process in processes:
        try:
            found[process.pid] = measure(process)
        except psutil.Error:
            continue
    return found


def _recovery(load: _Load, patience_s: float) -> tuple[bool, str]:
    """Ready again and a golden answer, within `patience_s` of the load's end."""
    server = load.server
    deadline = time.monotonic() + patience_s
    started = time.monotonic()
    with httpx.Client(timeout=max(patience_s / 4, 0.5)) as client:
        while time.monotonic() < deadline:
            if not server.alive():
                code = server.proc.returncode if server.proc else None
                return False, f"the stack's process exited (code {code})"
            try:
                if client.get(server.url_for("ready")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(patience_s / 50)
        else:
            return False, f"not ready {patience_s:.1f} s after the load stopped"
        native = load.native(0)
        try:
            answer = client.request(native.method, server.url + native.path, content=native.body,
                                    headers=dict(native.headers))
        except httpx.HTTPError as error:
            return False, f"ready, but a prediction failed: {type(error).__name__}"
    if answer.status_code != 200:
        return False, f"ready, but a prediction answered {answer.status_code}"
    try:
        (found,) = server.stack.protocol.answers(answer.content, 1, False)
    except NotAnAnswer:
        return False, "ready, but the prediction was no answer"
    problem = answer_problem(found, load.golden[0])
    took = time.monotonic() - started
    if problem is not None:
        return False, f"ready, but a wrong answer: {problem}"
    return True, f"ready and a correct answer {took:.1f} s after the load stopped"


def _counters(server: ServerProcess) -> tuple[float, float] | None:
    """(predictions counted as made, errors counted) by the contract's metrics, if the stack has them."""
    if server.stack.deviation_for("ml_metrics") is not None or not server.alive():
        return None
    text = server_metrics.scrape(server.url_for("metrics"))
    if text is None:
        return None
    samples = server_metrics.parse(text)
    made = sum(v for (name, labels), v in samples.items()
               if name == "ml_predictions_total" and ("outcome", "success") in labels)
    errors = sum(v for (name, _), v in samples.items() if name == "ml_errors_total")
    return made, errors


def _loaded(load: _Load, resource_name: str, limit: str, idle: str, method: str,
            steps: Sequence[tuple[int, Callable[[int], list[Exchange]], float]]) -> LimitResult:
    """Run the steps until one sees failures, then check recovery and the accounting."""
    server = load.server
    processes_before = len(server.processes())
    before = _counters(server)
    done: list[LimitStep] = []
    for clients, plan, timeout_s in steps:
        done.append(_step(load, clients, plan, timeout_s))
        if _failures(done[-1]):
            break
    patience_s = max(s.timeout_s for s in done)
    recovered, recovery = _recovery(load, 2 * patience_s)
    after = _counters(server)
    total: Counter[str] = Counter()
    for step in done:
        total.update(step.outcomes)
    failed = sum(v for k, v in total.items() if k not in KEPT and k != "wrong_answer")
    unreceived = uncounted = None
    if before is not None and after is not None:
        # The recovery check's own prediction is one more the stack counts; every bad body
        # refused with a 4xx is one error it counts.
        made = after[0] - before[0] - (1 if recovered else 0)
        errors = after[1] - before[1] - total["refused_as_bad"]
        unreceived = max(0, round(made - total["ok"] - total["wrong_answer"]))
        uncounted = max(0, round(failed - errors))
    seen = Counter({k: v for k, v in total.items() if k not in KEPT})
    return LimitResult(
        resource=resource_name, method=method, limit=limit, idle=idle, steps=done, hit=bool(seen),
        client_saw=", ".join(f"{k} {v}" for k, v in seen.most_common()) or "no failures",
        recovered=recovered, recovery=recovery, wrong_answers=total["wrong_answer"],
        unreceived_predictions=unreceived, uncounted_failures=uncounted,
        processes_before=processes_before, processes_after=len(server.processes()),
    )


def _failures(step: LimitStep) -> int:
    return sum(v for k, v in step.outcomes.items() if k not in KEPT)


def open_files(server: ServerProcess, golden: Sequence[GoldenCase]) -> LimitResult:
    """RLIMIT_NOFILE at each process's idle descriptors plus FD_MARGIN, then more clients than
    that on kept-alive connections; the previous limits are restored afterwards."""
    load = _Load(server, golden)
    processes = settled_processes(server)
    idle = _idle(processes, lambda p: p.num_fds())
    previous = _previous(processes, resource.RLIMIT_NOFILE)
    baseline_s = _baseline(load, load.native(0))
    limits = {pid: (fds + FD_MARGIN, fds + FD_MARGIN) for pid, fds in idle.items()}
    applied = _set(processes, resource.RLIMIT_NOFILE, limits)

    def plan_for(timeout_s: float) -> Callable[[int], list[Exchange]]:
        return lambda client: [_golden_exchange(load, client + r, timeout_s) for r in range(ROUNDS)]

    steps = []
    for clients in FD_CLIENTS:
        timeout_s = HANG_FACTOR * baseline_s * clients * ROUNDS
        steps.append((clients, plan_for(timeout_s), timeout_s))
    try:
        return _loaded(load, "open_files", f"RLIMIT_NOFILE {_span(applied.values())} per process "
                       f"(its idle descriptors + {FD_MARGIN}), {len(applied)} processes",
                       f"{_span(idle.values())} descriptors per process; baseline {baseline_s * 1000:.1f} ms",
                       limit_method(), steps)
    finally:
        _set(server.processes(), resource.RLIMIT_NOFILE, previous)


def memory(server: ServerProcess, golden: Sequence[GoldenCase]) -> LimitResult:
    """RLIMIT_AS at each process's idle address space plus MEMORY_MARGIN_MIB, then more and
    more clients alternating a nearly 1 MiB bad body and a golden prediction. The limits stay:
    the stack is judged under them until it is stopped."""
    load = _Load(server, golden)
    processes = settled_processes(server)
    idle = _idle(processes, lambda p: p.memory_info().vms)
    rss = _idle(processes, lambda p: p.memory_info().rss)
    baseline_s = _baseline(load, load.big()) + _baseline(load, load.native(0))
    margin = MEMORY_MARGIN_MIB * 1024 * 1024
    limits = {pid: (size + margin, size + margin) for pid, size in idle.items()}
    applied = _set(processes, resource.RLIMIT_AS, limits)

    def plan_for(timeout_s: float) -> Callable[[int], list[Exchange]]:
        def plan(client: int) -> list[Exchange]:
            pairs = [(_big_exchange(load, timeout_s), _golden_exchange(load, client + r, timeout_s))
                     for r in range(ROUNDS)]
            return [exchange for pair in pairs for exchange in pair]
        return plan

    steps = []
    for clients in MEMORY_CLIENTS:
        timeout_s = HANG_FACTOR * baseline_s * clients * ROUNDS
        steps.append((clients, plan_for(timeout_s), timeout_s))
    mib = 1024 * 1024
    return _loaded(load, "memory", f"RLIMIT_AS {_span(v // mib for v in applied.values())} MiB per process "
                   f"(its idle address space + {MEMORY_MARGIN_MIB} MiB), {len(applied)} processes",
                   f"address space {_span(v // mib for v in idle.values())} MiB, resident "
                   f"{sum(rss.values()) // mib} MiB in all; baseline pair {baseline_s * 1000:.1f} ms",
                   limit_method(), steps)


def _span(values: Iterable[int]) -> str:
    found = sorted(values)
    if not found:
        return "none"
    return str(found[0]) if found[0] == found[-1] else f"{found[0]}-{found[-1]}"


def scarce_resources(server: ServerProcess, golden: Sequence[GoldenCase]) -> list[LimitResult]:
    """Open files first (the limits are restored after it), then memory."""
    return [open_files(server, golden), memory(server, golden)]

