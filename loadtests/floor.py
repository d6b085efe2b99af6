"""The floor of a run: each generator, workload and concurrency measured against a server that
answers every planned request without work (servers/floor.py), before the stacks.

What it measures is the harness's own latency (the generator, the loopback, a parse and a
lookup); every record of the run carries it next to its own numbers (Record.client), and one
where it is over a stated share of the p50 is flagged client_bound.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadtests import payloads
from loadtests.generators import Generator
from loadtests.measure import MeasureSettings, measure
from loadtests.plans import PlannedRequest
from loadtests.session import Ended, ModelUnderTest, Session, run_session
from loadtests.workloads import WORKLOADS
from servebench.results.schema import Record
from servers.contract import batch_payload, single_payload
from servers.floor import ANSWERS_ENV, FLOOR_STACK

Measurement = tuple[str, int]  # workload, users


def _answer(request: PlannedRequest, model: ModelUnderTest) -> str:
    """The answer a stack would give, computed in-process once: what the floor sends back."""
    if request.kind == "single":
        row = json.loads(request.body)
        return single_payload(model.predictor.predict_rows([row]), model.version).decode()
    rows = json.loads(request.body)["items"]
    return batch_payload(model.predictor.predict_rows(rows), model.version).decode()


def write_answers(path: Path, model: ModelUnderTest, measurements: list[Measurement]) -> None:
    planned: list[dict[str, Any]] = []
    for workload, users in measurements:
        traffic = payloads.traffic(WORKLOADS[workload], FLOOR_STACK, model.golden, f"{workload}-{users}-1")
        planned += [{"method": r.method, "path": r.path, "body": r.body, "answer": _answer(r, model)}
                    for pool in traffic.pool.values() for r in pool if r.rows]
    path.write_text(json.dumps(planned))


def measure_floor(measurements: list[Measurement], generator_of: Callable[[str], Generator],
                  model: ModelUnderTest, settings: MeasureSettings, cpus: tuple[int, ...] | None,
                  root: Path, host: str = "127.0.0.1") -> tuple[Ended, dict[Measurement, Record]]:
    """Every (workload, users) of the run against the floor, each with its workload's generator."""
    answers = root / "logs" / "floor-answers.json"
    write_answers(answers, model, measurements)
    found: dict[Measurement, Record] = {}

    def take(session: Session) -> None:
        for workload, users in measurements:
            found[(workload, users)] = measure(session, generator_of(workload), workload, users, 1,
                                               settings, root, check_counts=False)

    ended = run_session(FLOOR_STACK, model, cpus, root / "logs" / "floor.log", take,
                        verification="none", env={ANSWERS_ENV: str(answers)}, host=host)
    return ended, found
