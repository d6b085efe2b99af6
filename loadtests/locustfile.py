"""Locust users for one servebench measurement.

The plan comes from the file SERVEBENCH_LOCUST_PLAN names (local processes), or, for a worker
on another host (`servebench worker`, which fetches this file from the master as Locust does
with `-f -`), from the master itself: when a worker connects, the master sends it the plan as
a custom message, before any user is spawned.

Phases are separated by a *drained* boundary: at the end of the warm-up the master closes
the gate, every process waits until none of its requests is in flight and sends its tally,
the master scrapes `/metrics`, then opens the gate for the measured phase; the same at the
end. Both sides therefore count exactly the same requests for the measured phase. Works the
same in local mode (the runner delivers the messages to itself) and in master/worker mode.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import gevent
from gevent.event import Event
from locust import FastHttpUser, constant, constant_throughput, events
from locust.env import Environment
from locust.exception import CatchResponseError, StopUser
from locust.runners import MasterRunner, Runner, WorkerRunner

from loadtests.answers import failure
from loadtests.plans import (
    REPLICA_HEADER,
    WORKERS_FILE,
    ClosedOutput,
    ClosedPlan,
    PhaseOutput,
    PlannedRequest,
    ProcessLoad,
    TallyData,
)
from loadtests.recording import EXAMPLE_CHARS, PhaseTally, WindowTallies
from loadtests.server_metrics import scrape
from servers.protocols import PROTOCOLS, Protocol
from shared_model.model_schema import ModelSchema

PLAN_ENV = "SERVEBENCH_LOCUST_PLAN"


def _runner(environment: Environment) -> Runner:
    """The environment's runner: Locust sets it before any user or listener runs."""
    assert environment.runner is not None
    return environment.runner


PLAN: ClosedPlan
PROTOCOL: Protocol
MODEL: ModelSchema | None = None  # the served model's declaration: how its answers read
PLAN_READY = Event()
PLAN_WAIT_S = 30.0  # a worker's users wait this long for the plan before giving up
# Each request once: its body as bytes, its headers with Accept, built before any user starts.
SENDABLE: dict[str, list[tuple[PlannedRequest, bytes | None, dict[str, str]]]] = {}


class Gate:
    """Lets users through while a phase is open and knows when none of them is in flight."""

    def __init__(self) -> None:
        self.phase = "warmup"
        self.open = Event()
        self.open.set()
        self.idle = Event()
        self.idle.set()
        self.in_flight = 0
        self.tallies = {"warmup": PhaseTally(), "measured": PhaseTally()}
        # This process's CPU seconds and the time when its current phase opened: each process
        # reports its own load, wherever it runs.
        self.opened = (time.process_time(), time.time())
        # Answers per replica, for stacks that name the replica that answered (REPLICA_HEADER).
        self.replicas: dict[str, Counter[str]] = {"warmup": Counter(), "measured": Counter()}
        # The measured phase cut into windows, when the plan asks for them (soak runs).
        self.windows: WindowTallies | None = None

    def enter(self) -> str:
        self.open.wait()
        self.in_flight += 1
        self.idle.clear()
        return self.phase

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.idle.set()


GATE = Gate()


class ServebenchUser(FastHttpUser):
    wait_time = constant(0)  # closed loop: the next request leaves when the answer is in
    network_timeout = 60.0
    connection_timeout = 10.0
    _count = 0

    def on_start(self) -> None:
        # A worker on another host may be told to spawn before the plan it asked for arrives.
        if not PLAN_READY.wait(timeout=PLAN_WAIT_S):
            raise StopUser()  # counted: the measured phase then has fewer users (users_short)
        ServebenchUser._count += 1
        index = getattr(_runner(self.environment), "worker_index", 0)  # local and worker runners have one
        # A reproducible payload sequence per user.
        self.random = random.Random(f"{PLAN.traffic.seed}-{index}-{ServebenchUser._count}")

    def send(self, kind: str) -> None:
        request, body, headers = self.random.choice(SENDABLE[kind])
        phase = GATE.enter()
        try:
            context = {"sb_phase": phase, "sb_kind": kind, "sb_rows": request.rows}
            with self.client.request(request.method, request.path, catch_response=True, context=context,
                                     name=kind, data=cast(Any, body), headers=headers) as response:
                if replica := response.headers.get(REPLICA_HEADER):
                    GATE.replicas[phase][replica] += 1
                if response.status_code == 0:
                    error = getattr(response, "error", None)
                    problem = f"transport_{type(error).__name__}"
                    GATE.tallies[phase].example(kind, problem, f"{type(error).__name__}: {error}")
                    response.failure(problem)
                elif wrong := failure(PROTOCOL, request, response.status_code, response.content or b"",
                                      MODEL):
                    text = (response.content or b"")[:EXAMPLE_CHARS].decode("utf-8", "replace")
                    GATE.tallies[phase].example(kind, wrong, f"HTTP {response.status_code}: {text}")
                    response.failure(wrong)
                else:
                    response.success()
        finally:
            GATE.leave()


def _task(kind: str) -> Callable[[ServebenchUser], None]:
    return lambda user: user.send(kind)


ServebenchUser.tasks = []  # set by configure()


def configure(plan: ClosedPlan) -> None:
    """Everything the plan decides, set before any user is spawned."""
    global PLAN, PROTOCOL, MODEL
    PLAN, PROTOCOL, MODEL = plan, PROTOCOLS[plan.traffic.protocol], plan.traffic.declaration()
    SENDABLE.clear()
    SENDABLE.update({
        kind: [(r, r.body.encode() or None, {**r.headers, "Accept": "application/json"} if r.body else {})
               for r in requests]
        for kind, requests in plan.traffic.pool.items()})
    # Paced users (soak runs): each starts a task at most `user_rps` times a second, so the
    # offered rate is users x user_rps for as long as answers come back faster than the pace.
    if plan.user_rps:
        ServebenchUser.wait_time = constant_throughput(plan.user_rps)
    # A list with each task repeated by its weight: what Locust makes of a weight dict at class
    # creation, done by hand because the mix is only known once the plan is read.
    ServebenchUser.tasks = [_task(entry.kind) for entry in plan.traffic.mix for _ in range(entry.weight)]
    PLAN_READY.set()


if PLAN_ENV in os.environ:
    configure(ClosedPlan.model_validate_json(Path(os.environ[PLAN_ENV]).read_text()))


@events.request.add_listener
def _on_request(context: dict[str, Any], response_time: float, start_time: float,
                exception: BaseException | None, **_: Any) -> None:
    phase = context.get("sb_phase")
    if phase is None:
        return
    failure = None
    if exception is not None:
        failure = str(exception) if isinstance(exception, CatchResponseError) else (
            f"transport_{type(exception).__name__}")
        if not isinstance(exception, CatchResponseError):
            GATE.tallies[phase].example(context["sb_kind"], failure,
                                        f"{type(exception).__name__}: {exception}")
    GATE.tallies[phase].record(context["sb_kind"], start_time, response_time,
                               context["sb_rows"], failure)
    if phase == "measured" and GATE.windows is not None:
        GATE.windows.record(context["sb_kind"], start_time, response_time, context["sb_rows"], failure)


# ---- phase control: the load-side half runs in every process that has users ----

def _apply(environment: Environment, data: dict[str, Any]) -> None:
    if data["action"] == "open":
        GATE.phase = data["phase"]
        if data["phase"] == "measured" and PLAN.window_s:
            GATE.windows = WindowTallies(PLAN.window_s, data["at"])
        GATE.opened = (time.process_time(), time.time())
        GATE.open.set()
        return
    GATE.open.clear()
    drained = GATE.idle.wait(timeout=PLAN.drain_timeout_s)
    windows = GATE.windows.to_data() if GATE.phase == "measured" and GATE.windows else None
    runner = _runner(environment)
    cpu_at, wall_at = GATE.opened
    _runner(environment).send_message("sb_drained", {
        "seq": data["seq"], "drained": bool(drained), "in_flight": GATE.in_flight,
        "replicas": dict(GATE.replicas[GATE.phase]),
        "load": ProcessLoad(node=getattr(runner, "client_id", "local"), host=socket.gethostname(),
                            cpu_s=time.process_time() - cpu_at, wall_s=time.time() - wall_at).model_dump(),
        "tally": GATE.tallies[GATE.phase].to_data().model_dump(),
        "windows": {i: w.model_dump() for i, w in windows.items()} if windows is not None else None,
    })


def _on_phase(environment: Environment, msg: Any, **_: Any) -> None:
    gevent.spawn(_apply, environment, msg.data)  # never block the runner's message loop


class Controller:
    """Master (or local runner) side: times the phases and collects the drained tallies."""

    def __init__(self, environment: Environment) -> None:
        self.env = environment
        self.replies: dict[int, list[dict[str, Any]]] = {}
        self.arrived = Event()

    def on_drained(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.replies.setdefault(msg.data["seq"], []).append(msg.data)
        self.arrived.set()

    def _expected(self) -> int:
        runner = _runner(self.env)
        return runner.worker_count if isinstance(runner, MasterRunner) else 1

    def pause(self, seq: int, opened_at: float, users: int) -> PhaseOutput:
        paused_at = time.time()
        _runner(self.env).send_message("sb_phase", {"action": "pause", "seq": seq})
        deadline = paused_at + PLAN.drain_timeout_s + 5
        while len(self.replies.get(seq, [])) < self._expected() and time.time() < deadline:
            self.arrived.clear()
            if len(self.replies.get(seq, [])) >= self._expected():
                break
            self.arrived.wait(timeout=0.5)
        replies = self.replies.get(seq, [])
        merged = PhaseTally()
        windows = WindowTallies(PLAN.window_s, 0.0) if PLAN.window_s else None
        for reply in replies:
            merged.merge(TallyData.model_validate(reply["tally"]))
            if windows is not None and reply.get("windows"):
                windows.merge({i: TallyData.model_validate(w) for i, w in reply["windows"].items()})
        return PhaseOutput(
            tally=merged.to_data(), opened_at=opened_at, users=users, paused_at=paused_at,
            drained_at=time.time(), windows=windows.to_data() if windows else None,
            processes=len(replies), expected_processes=self._expected(),
            drained=len(replies) == self._expected() and all(r["drained"] for r in replies),
            loads=[ProcessLoad.model_validate(r["load"]) for r in replies],
            replicas=dict(sum((Counter(r["replicas"]) for r in replies), Counter())))

    def run(self) -> None:
        started = time.time()
        gevent.sleep(PLAN.warmup_s)
        warmup = self.pause(1, started, _runner(self.env).user_count)
        before = _scrape()
        users = _runner(self.env).user_count
        opened_at = time.time()
        _runner(self.env).send_message("sb_phase", {"action": "open", "phase": "measured", "seq": 2,
                                                  "at": opened_at})
        gevent.sleep(PLAN.measure_s)
        measured = self.pause(3, opened_at, users)
        after = _scrape()
        output = ClosedOutput(phases={"warmup": warmup, "measured": measured}, metrics_before=before,
                              metrics_after=after)
        Path(PLAN.out).write_text(output.model_dump_json())
        _runner(self.env).quit()


def _scrape() -> str | None:
    return scrape(PLAN.metrics_url)


# ---- the plan for workers started without its file (on other hosts) ----
# A worker's runner connects before it can register message handlers, so the worker asks for
# the plan once it can take the answer, and its users wait for it.

def _on_plan(environment: Environment, msg: Any, **_: Any) -> None:
    if not PLAN_READY.is_set():
        configure(ClosedPlan.model_validate(msg.data))


def _plan_asked(runner: MasterRunner) -> Callable[..., None]:
    def reply(environment: Environment, msg: Any, **_: Any) -> None:
        runner.send_message("sb_plan", PLAN.model_dump(mode="json"), client_id=msg.node_id)

    return reply


def _connected(connected: list[str]) -> Callable[..., None]:
    """Who connected, as they do: what the engine names when some workers never came."""

    def on_connect(client_id: str, **_: Any) -> None:
        connected.append(client_id)
        Path(PLAN.out).with_name(WORKERS_FILE).write_text(json.dumps(connected))

    return on_connect


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    runner = _runner(environment)
    if isinstance(runner, MasterRunner):
        environment.events.worker_connect.add_listener(_connected([]))  # type: ignore[no-untyped-call]
        runner.register_message("sb_plan_please", _plan_asked(runner))
    else:
        runner.register_message("sb_phase", _on_phase)
        runner.register_message("sb_plan", _on_plan)
        if isinstance(runner, WorkerRunner) and not PLAN_READY.is_set():
            runner.send_message("sb_plan_please")
    if not isinstance(runner, WorkerRunner):
        controller = Controller(environment)
        runner.register_message("sb_drained", controller.on_drained)

        @events.test_start.add_listener
        def _start(environment: Environment, **_: Any) -> None:
            gevent.spawn(controller.run)
