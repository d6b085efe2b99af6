"""The requests of a workload, built once per measurement in the stack's own protocol.

Every generator draws from the same pools: one request per golden case for single predictions,
PAYLOADS seeded batches of golden cases for batch predictions, the probe for probes. Built at
plan time, so no generator encodes anything while it measures.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from loadtests.plans import MixEntry, PlannedRequest, Traffic
from loadtests.workloads import PATH_OF, Step, Workload
from servers.registry import Stack
from shared_model.cases import GoldenCase

PAYLOADS = 64  # distinct batch requests per measurement


def _prediction(stack: Stack, cases: Sequence[GoldenCase], kind: str) -> PlannedRequest:
    native = stack.protocol.request([c.request for c in cases], kind == "batch", stack.paths)
    return PlannedRequest(kind="batch" if kind == "batch" else "single", method=native.method,
                          path=native.path, body=native.body.decode(), headers=dict(native.headers),
                          rows=len(cases), expected=[c.prediction for c in cases])


def pool(step: Step, stack: Stack, golden: Sequence[GoldenCase], rng: random.Random) -> list[PlannedRequest]:
    if step.kind == "single":
        return [_prediction(stack, [case], "single") for case in golden]
    if step.kind == "batch":
        return [_prediction(stack, [rng.choice(golden) for _ in range(rng.randint(step.batch_min,
                                                                                    step.batch_max))],
                            "batch") for _ in range(PAYLOADS)]
    return [PlannedRequest(kind=step.kind, method="GET", path=stack.paths[PATH_OF[step.kind]], body="",
                           headers={}, rows=0, expected=[])]


def traffic(workload: Workload, stack: Stack, golden: Sequence[GoldenCase], seed: str) -> Traffic:
    rng = random.Random(seed)
    return Traffic(mix=[MixEntry(kind=step.kind, weight=step.weight) for step in workload.mix],
                   pool={step.kind: pool(step, stack, golden, rng) for step in workload.mix},
                   protocol=stack.protocol.name, seed=seed)
