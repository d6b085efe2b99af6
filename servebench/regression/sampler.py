"""Paired latency samples: a stack's prediction against its own trivial endpoint.

Requests alternate health / predict on one keep-alive connection from a pinned client, so
whatever slows the machine down slows both alike and cancels in their ratio.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from servebench.regression.checkout import tree_env
from servers.process import ServerProcess
from servers.registry import Stack
from shared_model.cases import GOLDEN_REQUESTS


@dataclass(frozen=True)
class Rounds:
    """Latencies in microseconds, one list per round for each endpoint."""

    predict_us: list[list[int]]
    health_us: list[list[int]]


@dataclass(frozen=True)
class SamplingPlan:
    # Short runs, many of them: a fresh server process differs from the next by several
    # percent, so more processes narrow the interval more than longer ones would.
    rounds: int = 12
    pairs_per_round: int = 60
    warmup_pairs: int = 200


def _timed(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None) -> int:
    headers = {"content-type": "application/json"} if body is not None else {}
    started = time.perf_counter_ns()
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter_ns() - started
    if response.status != 200:
        raise RuntimeError(f"{method} {path} answered {response.status}")
    return elapsed // 1000


def sample(server: ServerProcess, plan: SamplingPlan) -> Rounds:
    payloads = [json.dumps(r).encode() for r in GOLDEN_REQUESTS]
    predict, health = server.stack.paths["predict"], server.stack.paths["health"]
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        for i in range(plan.warmup_pairs):
            _timed(conn, "GET", health, None)
            _timed(conn, "POST", predict, payloads[i % len(payloads)])
        predict_rounds, health_rounds = [], []
        for _ in range(plan.rounds):
            p, h = [], []
            for i in range(plan.pairs_per_round):
                h.append(_timed(conn, "GET", health, None))
                p.append(_timed(conn, "POST", predict, payloads[i % len(payloads)]))
            predict_rounds.append(p)
            health_rounds.append(h)
    finally:
        conn.close()
    return Rounds(predict_rounds, health_rounds)


def served_from(tree: Path, stack: Stack) -> Stack:
    """The stack as the tree's own `servebench serve` starts it: that tree's registry, knobs
    and server code, whatever commit the tree is at."""
    argv = (sys.executable, "-m", "servebench.cli", "serve", stack.name,
            "--host", "{host}", "--port", "{port}")
    return replace(stack, argv=argv)


def sample_stack(
    stack: Stack,
    plan: SamplingPlan,
    server_cpus: Sequence[int] | None,
    tree: Path,
    env: Mapping[str, str] | None = None,
) -> tuple[Rounds, dict[str, object]]:
    """Start the stack from `tree`, sample it, stop it. Returns the rounds and its /info."""
    with ServerProcess(served_from(tree, stack), cpus=server_cpus, env={**tree_env(tree), **(env or {})},
                       cwd=tree) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        conn.request("GET", stack.paths["info"])
        info = json.loads(conn.getresponse().read())
        conn.close()
        return sample(server, plan), info
