"""Open-loop Locust user: requests leave on a precomputed schedule, answered or not.

Each Locust process runs one user that owns its share of the schedule. Every request is sent
from its own greenlet at its intended time; latency is taken from that intended time, so
queueing in the server is never hidden by a client that waited. Outstanding requests are
capped (the connection pool has as many connections as the cap). A request whose time comes
while the cap is reached waits, in order, for the next free connection (as wrk2 does): its
latency still runs from its intended time, so the wait counts against the stack. One that has
waited `timeout_s` without a free connection is given up and counted as `not_sent`, with the
time it waited as its latency. Nothing that was due is dropped from the record.

The controller (master, or the single local process) starts every user at the same instant
and writes what they recorded, column by column, to the plan's `out` file. Analysis happens
in the parent process (loadtests/openloop.py).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Pool
from locust import FastHttpUser, constant, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadtests.answers import check_batch, check_ready, check_single
from loadtests.arrivals import Segment, schedule
from loadtests.workloads import WORKLOADS, batch_body

PLAN: dict[str, Any] = json.loads(Path(os.environ["SERVEBENCH_LOCUST_PLAN"]).read_text())
WORKLOAD = WORKLOADS[PLAN["workload"]]
PATHS: dict[str, str] = PLAN["paths"]
SEGMENTS = [Segment(**segment) for segment in PLAN["segments"]]
GOLDEN: list[tuple[bytes, int]] = [
    (json.dumps(case["request"]).encode(), int(case["prediction"])) for case in PLAN["golden"]
]
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
START = Event()
START_AT: list[float] = []  # epoch seconds, set by the controller's go message
# The mix as a weighted list, drawn per request.
MIX = [step for step in WORKLOAD.mix for _ in range(step.weight)]


class Columns:
    """Per request: intended offset, segment, send lag (when the schedule loop handled it, minus
    its intended time: the generator's own lag), wait for a free connection (the cap was
    reached: counted against the stack), latency from the intended time until answered, failed
    or given up, Locust's own response time (from the actual send) and outcome ("" = success)."""

    def __init__(self) -> None:
        self.data: dict[str, list[Any]] = {
            "intended_s": [], "segment": [], "lag_us": [], "wait_us": [], "capped": [],
            "latency_us": [], "service_us": [], "kind": [], "outcome": [],
        }

    def add(self, **values: Any) -> None:
        for name, value in values.items():
            self.data[name].append(value)


class OpenLoopUser(FastHttpUser):
    wait_time = constant(0)
    concurrency = int(PLAN["max_outstanding"])  # one connection per outstanding request
    network_timeout = float(PLAN["timeout_s"])
    connection_timeout = float(PLAN["timeout_s"])

    def _serve(self, intended: float, segment: int, dispatched: float, columns: Columns,
               backlog: deque[tuple[float, int, float]]) -> None:
        """One connection's worth of work: this request, then the oldest ones waiting for a
        connection, until none is left (those waiting longer than the timeout are given up)."""
        self._request(intended, segment, dispatched, columns, False)
        while backlog:
            intended, segment, dispatched = backlog.popleft()
            if time.time() - intended > float(PLAN["timeout_s"]):
                give_up(intended, segment, dispatched, columns)
                continue
            self._request(intended, segment, dispatched, columns, True)

    def _request(self, intended: float, segment: int, dispatched: float, columns: Columns,
                 capped: bool) -> None:
        step = self.random.choice(MIX)
        sent = time.time()
        expected: Any
        if step.kind == "batch":
            picks = [self.random.choice(GOLDEN)
                     for _ in range(self.random.randint(step.batch_min, step.batch_max))]
            body: bytes | None = batch_body(p[0] for p in picks)
            expected = [p[1] for p in picks]
            path, check = PATHS["batch"], check_batch
        elif step.kind == "single":
            body, expected = self.random.choice(GOLDEN)
            path, check = PATHS["predict"], check_single
        else:
            body, expected, path = None, None, PATHS["ready"]
            check = lambda b, _: check_ready(b)  # noqa: E731
        outcome, service_ms = self._call(path, body, lambda b: check(b, expected))
        done = time.time()
        start = START_AT[0]
        columns.add(intended_s=round(intended - start, 6), segment=segment,
                    lag_us=round((dispatched - intended) * 1e6), wait_us=round((sent - dispatched) * 1e6),
                    capped=int(capped), latency_us=round((done - intended) * 1e6),
                    service_us=round(service_ms * 1000), kind=step.kind, outcome=outcome)

    def _call(self, path: str, body: bytes | None,
              check: Callable[[bytes], str | None]) -> tuple[str, float]:
        method = self.client.post if body is not None else self.client.get
        kwargs: dict[str, Any] = {"data": body, "headers": JSON_HEADERS} if body else {}
        outcome = ""
        with method(path, catch_response=True, name="openloop", **kwargs) as response:
            if response.status_code == 0:
                outcome = f"transport_{type(getattr(response, 'error', None)).__name__}"
            elif response.status_code != 200:
                outcome = f"status_{response.status_code}"
            else:
                outcome = check(response.content or b"") or ""
            if outcome:
                response.failure(outcome)
            else:
                response.success()
        return outcome, float(response.request_meta["response_time"])  # Locust's own number

    @task
    def run_schedule(self) -> None:
        index = self.environment.runner.worker_index
        share = int(PLAN["processes"])
        self.random = random.Random(f"{PLAN['seed']}-payload-{index}")
        plan = schedule(PLAN["arrival"], SEGMENTS, PLAN["seed"], share, index)
        self.environment.runner.send_message("ol_ready", {"index": index})
        START.wait()
        start = START_AT[0]
        columns = Columns()
        pool = Pool(int(PLAN["max_outstanding"]))
        backlog: deque[tuple[float, int, float]] = deque()  # due, waiting for a free connection
        timeout = float(PLAN["timeout_s"])
        capped = 0
        for offset, segment in plan:
            intended = start + offset
            delay = intended - time.time()
            if delay > 0:
                gevent.sleep(delay)
            dispatched = time.time()
            while backlog and dispatched - backlog[0][0] > timeout:
                give_up(*backlog.popleft(), columns)
            if pool.full() or backlog:
                backlog.append((intended, segment, dispatched))
                capped += 1
                continue
            pool.spawn(self._serve, intended, segment, dispatched, columns, backlog)
        # A request sent just before its timeout may itself take the timeout to fail.
        drained = pool.join(timeout=2 * timeout + 5)
        while backlog:
            give_up(*backlog.popleft(), columns)
        self.environment.runner.send_message("ol_done", {
            "index": index, "drained": bool(drained), "in_flight": len(pool), "capped": capped,
            **columns.data})
        gevent.sleep(3600)  # the controller quits the runner


def give_up(intended: float, segment: int, dispatched: float, columns: Columns) -> None:
    """A due request that found no free connection within the timeout: never sent, and a
    failure that lasted from its intended time until now."""
    now = time.time()
    columns.add(intended_s=round(intended - START_AT[0], 6), segment=segment,
                lag_us=round((dispatched - intended) * 1e6), wait_us=round((now - dispatched) * 1e6),
                capped=1, latency_us=round((now - intended) * 1e6), service_us=0, kind="", outcome="not_sent")


def _on_go(environment: Environment, msg: Any, **_: Any) -> None:
    START_AT[:] = [msg.data["start_at"]]
    START.set()


class Controller:
    def __init__(self, environment: Environment) -> None:
        self.env = environment
        self.ready: set[int] = set()
        self.start_at: float | None = None
        self.done: list[dict[str, Any]] = []
        self.arrived = Event()

    def on_ready(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.ready.add(msg.data["index"])
        if len(self.ready) == int(PLAN["processes"]):
            self.start_at = time.time() + 0.2  # every process starts its schedule at this instant
            gevent.spawn(self.env.runner.send_message, "ol_go", {"start_at": self.start_at})

    def on_done(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.done.append(msg.data)
        self.arrived.set()

    def run(self) -> None:
        total = sum(segment.duration_s for segment in SEGMENTS)
        deadline = time.time() + float(PLAN["startup_s"]) + total + 2 * float(PLAN["timeout_s"]) + 15
        while len(self.done) < int(PLAN["processes"]) and time.time() < deadline:
            self.arrived.clear()
            self.arrived.wait(timeout=0.5)
        Path(PLAN["out"]).write_text(json.dumps({
            "start_at": self.start_at, "processes": self.done,
            "expected_processes": int(PLAN["processes"])}))
        self.env.runner.quit()


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        runner.register_message("ol_go", _on_go)
    if not isinstance(runner, WorkerRunner):
        controller = Controller(environment)
        runner.register_message("ol_ready", controller.on_ready)
        runner.register_message("ol_done", controller.on_done)

        @events.test_start.add_listener
        def _start(environment: Environment, **_: Any) -> None:
            gevent.spawn(controller.run)
