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

import os
import random
import time
from collections import deque
from pathlib import Path
from typing import Any, cast

import gevent
from gevent.event import Event
from gevent.pool import Pool
from locust import FastHttpUser, constant, events, task
from locust.env import Environment
from locust.runners import MasterRunner, Runner, WorkerRunner

from loadtests.answers import failure
from loadtests.arrivals import Segment, schedule
from loadtests.plans import OpenColumns, OpenOutput, OpenPlan, PlannedRequest
from servers.protocols import PROTOCOLS


def _runner(environment: Environment) -> Runner:
    """The environment's runner: Locust sets it before any user or listener runs."""
    assert environment.runner is not None
    return environment.runner


PLAN = OpenPlan.model_validate_json(Path(os.environ["SERVEBENCH_LOCUST_PLAN"]).read_text())
PROTOCOL = PROTOCOLS[PLAN.traffic.protocol]
MODEL = PLAN.traffic.declaration()  # the served model's declaration: how its answers read
SEGMENTS = [Segment(s.name, s.rate, s.duration_s) for s in PLAN.segments]
START = Event()
START_AT: list[float] = []  # epoch seconds, set by the controller's go message
# The mix as a weighted list of pools, drawn per request; bodies encoded once.
MIX: list[list[tuple[PlannedRequest, bytes | None, dict[str, str]]]] = [
    [(r, r.body.encode() or None, {**r.headers, "Accept": "application/json"} if r.body else {})
     for r in PLAN.traffic.pool[entry.kind]]
    for entry in PLAN.traffic.mix for _ in range(entry.weight)
]


class Columns:
    """Per request: intended offset, segment, send lag (when the schedule loop handled it, minus
    its intended time: the generator's own lag), wait for a free connection (the cap was
    reached: counted against the stack), latency from the intended time until answered, failed
    or given up, Locust's own response time (from the actual send) and outcome ("" = success)."""

    NAMES = ("intended_s", "segment", "lag_us", "wait_us", "capped", "latency_us", "service_us",
             "kind", "outcome")

    def __init__(self) -> None:
        self.data: dict[str, list[Any]] = {name: [] for name in self.NAMES}

    def add(self, **values: Any) -> None:
        for name, value in values.items():
            self.data[name].append(value)


class OpenLoopUser(FastHttpUser):
    wait_time = constant(0)
    concurrency = PLAN.max_outstanding  # one connection per outstanding request
    network_timeout = PLAN.timeout_s
    connection_timeout = PLAN.timeout_s

    def _serve(self, intended: float, segment: int, dispatched: float, columns: Columns,
               backlog: deque[tuple[float, int, float]]) -> None:
        """One connection's worth of work: this request, then the oldest ones waiting for a
        connection, until none is left (those waiting longer than the timeout are given up)."""
        self._request(intended, segment, dispatched, columns, False)
        while backlog:
            intended, segment, dispatched = backlog.popleft()
            if time.time() - intended > PLAN.timeout_s:
                give_up(intended, segment, dispatched, columns)
                continue
            self._request(intended, segment, dispatched, columns, True)

    def _request(self, intended: float, segment: int, dispatched: float, columns: Columns,
                 capped: bool) -> None:
        request, body, headers = self.random.choice(self.random.choice(MIX))
        sent = time.time()
        outcome, service_ms = self._call(request, body, headers)
        done = time.time()
        start = START_AT[0]
        columns.add(intended_s=round(intended - start, 6), segment=segment,
                    lag_us=round((dispatched - intended) * 1e6), wait_us=round((sent - dispatched) * 1e6),
                    capped=int(capped), latency_us=round((done - intended) * 1e6),
                    service_us=round(service_ms * 1000), kind=request.kind, outcome=outcome)

    def _call(self, request: PlannedRequest, body: bytes | None,
              headers: dict[str, str]) -> tuple[str, float]:
        outcome = ""
        with self.client.request(request.method, request.path, catch_response=True, name="openloop",
                                 data=cast(Any, body), headers=headers) as response:
            if response.status_code == 0:
                outcome = f"transport_{type(getattr(response, 'error', None)).__name__}"
            else:
                outcome = failure(PROTOCOL, request, response.status_code, response.content or b"",
                                  MODEL) or ""
            if outcome:
                response.failure(outcome)
            else:
                response.success()
        return outcome, float(response.request_meta["response_time"])  # Locust's own number

    @task
    def run_schedule(self) -> None:
        index = getattr(_runner(self.environment), "worker_index", 0)  # local and worker runners have one
        share = PLAN.processes
        self.random = random.Random(f"{PLAN.traffic.seed}-payload-{index}")
        plan = schedule(PLAN.arrival, SEGMENTS, PLAN.traffic.seed, share, index)
        _runner(self.environment).send_message("ol_ready", {"index": index})
        START.wait()
        start = START_AT[0]
        columns = Columns()
        pool = Pool(PLAN.max_outstanding)
        backlog: deque[tuple[float, int, float]] = deque()  # due, waiting for a free connection
        timeout = PLAN.timeout_s
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
                continue
            pool.spawn(self._serve, intended, segment, dispatched, columns, backlog)
        # A request sent just before its timeout may itself take the timeout to fail.
        drained = pool.join(timeout=2 * timeout + 5)
        while backlog:
            give_up(*backlog.popleft(), columns)
        done = OpenColumns(index=index, drained=bool(drained), in_flight=len(pool), **columns.data)
        _runner(self.environment).send_message("ol_done", done.model_dump())
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
        self.done: list[OpenColumns] = []
        self.arrived = Event()

    def on_ready(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.ready.add(msg.data["index"])
        if len(self.ready) == PLAN.processes:
            self.start_at = time.time() + 0.2  # every process starts its schedule at this instant
            gevent.spawn(_runner(self.env).send_message, "ol_go", {"start_at": self.start_at})

    def on_done(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.done.append(OpenColumns.model_validate(msg.data))
        self.arrived.set()

    def run(self) -> None:
        total = sum(segment.duration_s for segment in SEGMENTS)
        deadline = time.time() + PLAN.startup_s + total + 2 * PLAN.timeout_s + 15
        while len(self.done) < PLAN.processes and time.time() < deadline:
            self.arrived.clear()
            self.arrived.wait(timeout=0.5)
        output = OpenOutput(start_at=self.start_at, processes=self.done, expected_processes=PLAN.processes)
        Path(PLAN.out).write_text(output.model_dump_json())
        _runner(self.env).quit()


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    runner = _runner(environment)
    if not isinstance(runner, MasterRunner):
        runner.register_message("ol_go", _on_go)
    if not isinstance(runner, WorkerRunner):
        controller = Controller(environment)
        runner.register_message("ol_ready", controller.on_ready)
        runner.register_message("ol_done", controller.on_done)

        @events.test_start.add_listener
        def _start(environment: Environment, **_: Any) -> None:
            gevent.spawn(controller.run)
