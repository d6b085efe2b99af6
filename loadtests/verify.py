"""Check a running stack before measuring it: a fast wrong answer is not a result.

Every golden answer through the stack's protocol (class exact, probabilities and regression
values within 1e-6, single and batch), every bad case of the model answered with the stack's
declared status, and `/info` reporting the registry's knobs and the expected model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import httpx

from loadtests.bad_inputs import ask, fresh_client, send_with
from servebench.results.schema import Check
from servers.process import Server
from servers.protocols import Answer, NotAnAnswer, served_schema
from servers.registry import Stack
from shared_model.cases import BAD, BadCase, GoldenCase
from shared_model.model_schema import ModelSchema

PROBABILITY_TOLERANCE = 1e-6  # probabilities and regression values, as the model computed them
VERIFY_TIMEOUT_S = 30.0


def answer_problem(answer: Answer, case: GoldenCase, labels: Sequence[str] | None = None) -> str | None:
    """What is wrong with an answer to a golden case, or None (`labels`: the probability keys,
    by default those of the model SERVEBENCH_MODEL names)."""
    labels = served_schema().labels if labels is None else labels
    want = case.prediction
    if isinstance(want, float) and not isinstance(want, bool):
        got = answer.prediction
        if not isinstance(got, int | float) or isinstance(got, bool) or not math.isclose(
                got, want, rel_tol=0, abs_tol=PROBABILITY_TOLERANCE):
            return f"value {got!r}, expected {want!r}"
        return None
    if answer.prediction != want:
        return f"class {answer.prediction!r}, expected {want!r}"
    probability = answer.probability or {}
    for label, expected in zip(labels, case.probability, strict=True):
        value = probability.get(label)
        if value is None or not math.isclose(value, expected, abs_tol=PROBABILITY_TOLERANCE):
            return f"probability of {label} {value!r}, expected {expected!r}"
    return None


def _ask(client: httpx.Client, stack: Stack, cases: Sequence[GoldenCase], batch: bool,
         model: ModelSchema) -> list[str | None]:
    """One problem (or None) per case, asking for all of them in one request when `batch`."""
    native = stack.protocol.request([c.request for c in cases], batch, stack.paths, model)
    response = client.request(native.method, native.path, content=native.body, headers=dict(native.headers))
    if response.status_code != 200:
        return [f"status {response.status_code}: {response.text[:200]}"] * len(cases)
    try:
        answers = stack.protocol.answers(response.content, len(cases), batch, model)
    except NotAnAnswer as error:
        return [str(error)] * len(cases)
    return [answer_problem(answer, case, model.labels) for answer, case in zip(answers, cases, strict=True)]


def _golden(client: httpx.Client, stack: Stack, golden: Sequence[GoldenCase],
            model: ModelSchema) -> list[Check]:
    checks = []
    for index, case in enumerate(golden):
        (problem,) = _ask(client, stack, [case], False, model)
        checks.append(Check(name=f"golden_single_{index}", ok=problem is None, detail=problem or ""))
    problems = list(dict.fromkeys(p for p in _ask(client, stack, golden, True, model) if p))
    return [*checks, Check(name="golden_batch", ok=not problems, detail="; ".join(problems[:3]))]


def _bad(server: Server, cases: Sequence[BadCase], model: ModelSchema) -> list[Check]:
    """Each bad case the stack's protocol can carry, classified as the robustness matrix does;
    the detail starts with that outcome and a colon (the report's matrix reads it back).

    Each case and each readiness check on a connection of its own (loadtests/bad_inputs.py). A
    peer's declared 5xx (measured and documented in the registry) does not stop it being
    measured, although the matrix still counts it as a failure."""
    stack = server.stack
    by_name = {case.name: case for case in cases}
    with fresh_client(server, VERIFY_TIMEOUT_S) as fresh:
        found = ask(server, cases, model, send_with(fresh), fresh)
    checks = []
    for seen in found:
        case = by_name[seen.case]
        declared_body = stack.expected_bad(case)[1]
        as_declared = (seen.ready_after and seen.status == seen.declared
                       and (seen.error_body or not declared_body))
        detail = (f"{seen.outcome}: {seen.detail}" if seen.status is None else
                  f"{seen.outcome}: status {seen.status}, declared {seen.declared}, "
                  f"ErrorBody {'yes' if seen.error_body else 'no'}, "
                  f"ready after {'yes' if seen.ready_after else 'no'}")
        checks.append(Check(name=f"bad_{case.name}", ok=seen.outcome in ("pass", "declared") or as_declared,
                            group=case.group, detail=detail))
    return checks


def _info(client: httpx.Client, server: Server, profile: str, fingerprint: str) -> list[Check]:
    stack = server.stack
    declared = stack.deviation_for("info")
    if declared is not None:  # the framework reports no knobs: the golden answers checked the model
        return [Check(name="info", ok=True, detail=f"declared: {declared.summary}")]
    response = client.get(server.url_for("info"))
    if response.status_code != 200:
        return [Check(name="info", ok=False, detail=f"status {response.status_code}")]
    info = response.json()
    model = info.get("model", {})
    return [
        Check(name="info_stack", ok=info.get("stack") == server.kind,
              detail=f"reports {info.get('stack')!r}"),
        Check(name="info_knobs", ok=info.get("knobs") == dict(stack.knobs),
              detail=f"reports {info.get('knobs')}, registry {dict(stack.knobs)}"),
        Check(name="info_model", ok=(model.get("profile"), model.get("sha256")) == (profile, fingerprint),
              detail=f"reports {model.get('profile')} {str(model.get('sha256'))[:12]}, "
                     f"expected {profile} {fingerprint[:12]}"),
    ]


def verify(server: Server, golden: Sequence[GoldenCase], profile: str, fingerprint: str,
           bad_inputs: bool = True, model: ModelSchema | None = None,
           bad: Sequence[BadCase] = BAD) -> list[Check]:
    """Every check, passed or not; the caller measures the stack only if all passed."""
    model = model or served_schema()
    with httpx.Client(base_url=server.url, timeout=VERIFY_TIMEOUT_S) as client:
        try:
            return [*_golden(client, server.stack, golden, model),
                    *(_bad(server, bad, model) if bad_inputs else []),
                    *_info(client, server, profile, fingerprint)]
        except (httpx.HTTPError, ValueError) as error:
            return [Check(name="reachable", ok=False, detail=f"{type(error).__name__}: {error}")]
