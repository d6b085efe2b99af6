"""Paired latency samples: a stack's prediction against its own trivial endpoint.

Requests alternate health / predict on one keep-alive connection from a pinned client, so
whatever slows the machine down slows both alike and cancels in their ratio.
"""

from __future__ import annotations

import http.client
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from servebench.results.kinds import ProcessRounds
from servers.process import Server
from servers.registry import Stack
from shared_model.cases import GoldenCase

Rounds = ProcessRounds  # one process's paired latencies, as results record them


@dataclass(frozen=True)
class SamplingPlan:
    # Short runs, many of them: a fresh server process differs from the next by several
    # percent, so more processes narrow the interval more than longer ones would.
    rounds: int = 12
    pairs_per_round: int = 60
    warmup_pairs: int = 200


def _timed(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None,
           headers: dict[str, str]) -> int:
    started = time.perf_counter_ns()
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter_ns() - started
    if response.status != 200:
        raise RuntimeError(f"{method} {path} answered {response.status}")
    return elapsed // 1000


def sample(server: Server, golden: Sequence[GoldenCase], plan: SamplingPlan) -> Rounds:
    stack = server.stack
    requests = [stack.protocol.request([case.request], False, stack.paths) for case in golden]
    health = stack.paths["health"]

    def predict(i: int) -> int:
        native = requests[i % len(requests)]
        return _timed(conn, native.method, native.path, native.body, dict(native.headers))

    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        for i in range(plan.warmup_pairs):
            _timed(conn, "GET", health, None, {})
            predict(i)
        predict_rounds, health_rounds = [], []
        for _ in range(plan.rounds):
            p, h = [], []
            for i in range(plan.pairs_per_round):
                h.append(_timed(conn, "GET", health, None, {}))
                p.append(predict(i))
            predict_rounds.append(p)
            health_rounds.append(h)
    finally:
        conn.close()
    return Rounds(predict_us=predict_rounds, health_us=health_rounds)


def served_from(tree: Path, stack: Stack) -> Stack:
    """The stack as the tree's own `servebench serve` starts it: that tree's registry, knobs
    and server code, whatever commit the tree is at."""
    argv = (sys.executable, "-m", "servebench.cli", "serve", stack.name,
            "--host", "{host}", "--port", "{port}")
    return replace(stack, argv=argv)
