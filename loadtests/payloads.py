"""The requests of a workload, built once per measurement in the stack's own protocol.

Every generator draws from the same pools, made of the model's payload rows (the user's sample,
golden rows first; churn's golden rows), each with its in-process answer, so every answer is
checked under load: one request per row (at most SINGLES) for single predictions, PAYLOADS
seeded batches of rows for batch predictions, the probe for probes. Built at plan time, so no
generator encodes anything while it measures.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from loadtests.plans import MixEntry, PlannedRequest, Traffic
from loadtests.workloads import PATH_OF, Step, Workload
from servers.registry import Stack
from shared_model.cases import GoldenCase
from shared_model.model_schema import ModelSchema

PAYLOADS = 64  # distinct batch requests per measurement
SINGLES = 256  # distinct single requests per measurement, at most


def _prediction(stack: Stack, cases: Sequence[GoldenCase], kind: str,
                model: ModelSchema | None) -> PlannedRequest:
    native = stack.protocol.request([c.request for c in cases], kind == "batch", stack.paths, model)
    return PlannedRequest(kind="batch" if kind == "batch" else "single", method=native.method,
                          path=native.path, body=native.body.decode(), headers=dict(native.headers),
                          rows=len(cases), expected=[c.prediction for c in cases])


def pool(step: Step, stack: Stack, rows: Sequence[GoldenCase], rng: random.Random,
         model: ModelSchema | None = None) -> list[PlannedRequest]:
    if step.kind == "single":
        return [_prediction(stack, [case], "single", model) for case in rows[:SINGLES]]
    if step.kind == "batch":
        return [_prediction(stack, [rng.choice(rows) for _ in range(rng.randint(step.batch_min,
                                                                                  step.batch_max))],
                            "batch", model) for _ in range(PAYLOADS)]
    return [PlannedRequest(kind=step.kind, method="GET", path=stack.paths[PATH_OF[step.kind]], body="",
                           headers={}, rows=0, expected=[])]


def traffic(workload: Workload, stack: Stack, rows: Sequence[GoldenCase], seed: str,
            model: ModelSchema | None = None) -> Traffic:
    """The workload's requests for `stack`, drawn from `rows` (cases with their answers)."""
    rng = random.Random(seed)
    return Traffic(mix=[MixEntry(kind=step.kind, weight=step.weight) for step in workload.mix],
                   pool={step.kind: pool(step, stack, rows, rng, model) for step in workload.mix},
                   protocol=stack.protocol.name, seed=seed,
                   model=model.model_dump(mode="json") if model is not None else None)
