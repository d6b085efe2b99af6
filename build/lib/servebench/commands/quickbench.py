"""`servebench quickbench`: a short, bounded measurement of every stack (no Locust).

Starts each stack pinned apart from the client, checks its golden answers, sends a fixed
number of single predictions from a few keep-alive connections and prints req/s, p50, p99.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import threading
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from servers.process import ServerProcess, StackFailed
from servers.registry import STACKS
from shared_model.cases import golden_cases
from shared_model.predictor import Predictor


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("quickbench", help="short bounded measurement of each stack")
    parser.add_argument("--stacks", nargs="+", choices=sorted(STACKS), default=list(STACKS))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=8)
    parser.set_defaults(func=run)


def _verify(server: ServerProcess, cases: list[Any]) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    for case in cases:
        conn.request("POST", server.stack.paths["predict"], json.dumps(case.request),
                     {"content-type": "application/json"})
        response = conn.getresponse()
        body = json.loads(response.read())
        if response.status != 200 or body["prediction"] != case.prediction:
            raise server.failed(f"wrong answer for a golden case: {response.status} {body}")
    conn.close()


def _load(server: ServerProcess, payloads: list[bytes], n: int, connections: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(count: int) -> None:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        mine = []
        for i in range(count):
            started = time.perf_counter()
            conn.request("POST", server.stack.paths["predict"], payloads[i % len(payloads)],
                         {"content-type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n // connections,)) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def run(args: argparse.Namespace) -> int:
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus, client_cpus = (cpus[-1:], cpus[:-1]) if len(cpus) > 1 else (None, None)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    cases = golden_cases(Predictor.load())
    payloads = [json.dumps(c.request).encode() for c in cases]
    table = Table(title=f"quickbench: {args.requests} single predictions, "
                  f"{args.connections} connections, server CPUs {server_cpus}, client {client_cpus}")
    for column in ("stack", "ready s", "req/s", "p50 ms", "p99 ms", "status"):
        table.add_column(column, justify="right" if column != "stack" else "left")
    failed = 0
    for name in args.stacks:
        server = ServerProcess(STACKS[name], cpus=server_cpus)
        try:
            with server:
                _verify(server, cases)
                _load(server, payloads, 200, args.connections)  # warm-up, not counted
                started = time.perf_counter()
                latencies = _load(server, payloads, args.requests, args.connections)
                elapsed = time.perf_counter() - started
            q = statistics.quantiles(latencies, n=100)
            table.add_row(name, f"{server.ready_after_s:.2f}", f"{len(latencies) / elapsed:.0f}",
                          f"{q[49] * 1e3:.2f}", f"{q[98] * 1e3:.2f}", "ok")
        except (StackFailed, RuntimeError, OSError) as error:
            failed += 1
            table.add_row(name, "", "", "", "", f"FAILED: {error}")
            if isinstance(error, StackFailed):
                print(error.log_tail)
    Console().print(table)
    return 1 if failed else 0
