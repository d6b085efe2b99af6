"""Locust users for one servebench measurement; the plan comes from SERVEBENCH_LOCUST_PLAN.

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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from locust import FastHttpUser, constant, constant_throughput, events
from locust.env import Environment
from locust.exception import CatchResponseError
from locust.runners import MasterRunner, WorkerRunner

from loadtests.answers import check_batch, check_ready, check_single
from loadtests.recording import PhaseTally, WindowTallies
from loadtests.server_metrics import scrape
from loadtests.workloads import WORKLOADS, Step, batch_body

PLAN: dict[str, Any] = json.loads(Path(os.environ["SERVEBENCH_LOCUST_PLAN"]).read_text())
WORKLOAD = WORKLOADS[PLAN["workload"]]
PATHS: dict[str, str] = PLAN["paths"]
GOLDEN: list[tuple[bytes, int]] = [
    (json.dumps(case["request"]).encode(), int(case["prediction"])) for case in PLAN["golden"]
]
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


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
        ServebenchUser._count += 1
        index = self.environment.runner.worker_index
        # A reproducible payload sequence per user.
        self.random = random.Random(f"{PLAN['seed']}-{index}-{ServebenchUser._count}")

    def _send(self, kind: str, path: str, body: bytes | None, rows: int,
              check: Callable[[bytes], str | None]) -> None:
        phase = GATE.enter()
        try:
            context = {"sb_phase": phase, "sb_kind": kind, "sb_rows": rows}
            method = self.client.post if body is not None else self.client.get
            kwargs: dict[str, Any] = {"data": body, "headers": JSON_HEADERS} if body else {}
            with method(path, catch_response=True, context=context, name=kind, **kwargs) as response:
                if response.status_code == 0:
                    response.failure(f"transport_{type(getattr(response, 'error', None)).__name__}")
                elif response.status_code != 200:
                    response.failure(f"status_{response.status_code}")
                else:
                    problem = check(response.content or b"")
                    if problem:
                        response.failure(problem)
                    else:
                        response.success()
        finally:
            GATE.leave()

    def single(self) -> None:
        body, expected = self.random.choice(GOLDEN)
        self._send("single", PATHS["predict"], body, 1, lambda b: check_single(b, expected))

    def batch(self, step: Step) -> None:
        picks = [self.random.choice(GOLDEN) for _ in range(self.random.randint(step.batch_min,
                                                                               step.batch_max))]
        body = batch_body(p[0] for p in picks)
        expected = [p[1] for p in picks]
        self._send("batch", PATHS["batch"], body, len(picks), lambda b: check_batch(b, expected))

    def ready(self) -> None:
        self._send("ready", PATHS["ready"], None, 0, check_ready)

    def health(self) -> None:
        self._send("health", PATHS["health"], None, 0, lambda body: None)


def _task(step: Step) -> Callable[[ServebenchUser], None]:
    if step.kind == "batch":
        return lambda user: user.batch(step)
    return lambda user: getattr(user, step.kind)()


# Paced users (soak runs): each starts a task at most `user_rps` times a second, so the
# offered rate is users x user_rps for as long as answers come back faster than the pace.
if PLAN.get("user_rps"):
    ServebenchUser.wait_time = constant_throughput(PLAN["user_rps"])

# A list with each task repeated by its weight: what Locust makes of a weight dict at class
# creation, done by hand because the mix is only known once the plan is read.
ServebenchUser.tasks = [_task(step) for step in WORKLOAD.mix for _ in range(step.weight)]


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
    GATE.tallies[phase].record(context["sb_kind"], start_time, response_time,
                               context["sb_rows"], failure)
    if phase == "measured" and GATE.windows is not None:
        GATE.windows.record(context["sb_kind"], start_time, response_time, context["sb_rows"], failure)


# ---- phase control: the load-side half runs in every process that has users ----

def _apply(environment: Environment, data: dict[str, Any]) -> None:
    if data["action"] == "open":
        GATE.phase = data["phase"]
        if data["phase"] == "measured" and PLAN.get("window_s"):
            GATE.windows = WindowTallies(PLAN["window_s"], data["at"])
        GATE.open.set()
        return
    GATE.open.clear()
    drained = GATE.idle.wait(timeout=PLAN["drain_timeout_s"])
    environment.runner.send_message("sb_drained", {
        "seq": data["seq"], "drained": bool(drained), "in_flight": GATE.in_flight,
        "tally": GATE.tallies[GATE.phase].to_dict(),
        "windows": GATE.windows.to_dict() if GATE.phase == "measured" and GATE.windows else None,
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
        runner = self.env.runner
        return runner.worker_count if isinstance(runner, MasterRunner) else 1

    def pause(self, seq: int) -> dict[str, Any]:
        paused_at = time.time()
        self.env.runner.send_message("sb_phase", {"action": "pause", "seq": seq})
        deadline = paused_at + PLAN["drain_timeout_s"] + 5
        while len(self.replies.get(seq, [])) < self._expected() and time.time() < deadline:
            self.arrived.clear()
            if len(self.replies.get(seq, [])) >= self._expected():
                break
            self.arrived.wait(timeout=0.5)
        replies = self.replies.get(seq, [])
        merged = PhaseTally()
        windows = WindowTallies(PLAN["window_s"], 0.0) if PLAN.get("window_s") else None
        for reply in replies:
            merged.merge(reply["tally"])
            if windows is not None and reply.get("windows"):
                windows.merge(reply["windows"])
        return {"tally": merged.to_dict(), "paused_at": paused_at, "drained_at": time.time(),
                "windows": windows.to_dict()["windows"] if windows else None,
                "processes": len(replies), "expected_processes": self._expected(),
                "drained": len(replies) == self._expected() and all(r["drained"] for r in replies)}

    def run(self) -> None:
        started = time.time()
        gevent.sleep(PLAN["warmup_s"])
        warmup = {"opened_at": started, "users": self.env.runner.user_count, **self.pause(1)}
        before = _scrape()
        users = self.env.runner.user_count
        opened_at = time.time()
        self.env.runner.send_message("sb_phase", {"action": "open", "phase": "measured", "seq": 2,
                                                  "at": opened_at})
        gevent.sleep(PLAN["measure_s"])
        measured = {"opened_at": opened_at, "users": users, **self.pause(3)}
        after = _scrape()
        Path(PLAN["out"]).write_text(json.dumps({
            "phases": {"warmup": warmup, "measured": measured},
            "metrics_before": before, "metrics_after": after,
        }))
        self.env.runner.quit()


def _scrape() -> str | None:
    return scrape(PLAN["host"] + PATHS["metrics"])


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        runner.register_message("sb_phase", _on_phase)
    if not isinstance(runner, WorkerRunner):
        controller = Controller(environment)
        runner.register_message("sb_drained", controller.on_drained)

        @events.test_start.add_listener
        def _start(environment: Environment, **_: Any) -> None:
            gevent.spawn(controller.run)
