"""Check a running stack before measuring it: a fast wrong answer is not a result.

Every golden answer (class exact, probabilities within 1e-6, single and batch), every BAD
case answered with the stack's declared status, and `/info` reporting the registry's knobs
and the expected model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from servebench.robustness import classify, is_error_body
from servers.registry import Stack
from shared_model.cases import BAD, GoldenCase

PROBABILITY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def _answer_problem(item: Any, case: GoldenCase) -> str | None:
    try:
        got = (item["prediction"], item["probability"]["no_churn"], item["probability"]["churn"])
    except (KeyError, TypeError):
        return f"not a prediction: {str(item)[:200]}"
    if got[0] != case.prediction:
        return f"class {got[0]}, expected {case.prediction}"
    for value, want in zip(got[1:], case.probability, strict=True):
        if not math.isclose(value, want, abs_tol=PROBABILITY_TOLERANCE):
            return f"probability {value!r}, expected {want!r}"
    return None


def _golden(client: httpx.Client, stack: Stack, golden: Sequence[GoldenCase]) -> list[Check]:
    checks = []
    for index, case in enumerate(golden):
        response = client.post(stack.paths["predict"], json=case.request)
        problem = (f"status {response.status_code}: {response.text[:200]}"
                   if response.status_code != 200 else _answer_problem(response.json(), case))
        checks.append(Check(f"golden_single_{index}", problem is None, problem or ""))
    response = client.post(stack.paths["batch"], json={"items": [c.request for c in golden]})
    if response.status_code != 200:
        return [*checks, Check("golden_batch", False, f"status {response.status_code}")]
    results = response.json().get("results", [])
    problems = [p for item, case in zip(results, golden, strict=False)
                if (p := _answer_problem(item, case))]
    if len(results) != len(golden):
        problems.append(f"{len(results)} results for {len(golden)} items")
    return [*checks, Check("golden_batch", not problems, "; ".join(problems[:3]))]


def _bad(client: httpx.Client, stack: Stack) -> list[Check]:
    """Each BAD case, classified as servebench.robustness does; the detail starts with that
    outcome and a colon (the report's robustness matrix reads it back)."""
    checks = []
    for case in BAD:
        status, _ = stack.expected_bad(case)
        response = client.request(case.method, case.path, content=case.body,
                                  headers={"content-type": case.content_type, **case.headers})
        ready = client.get(stack.paths["ready"]).status_code == 200
        error_body = is_error_body(response.content)
        outcome = classify(stack, case, response.status_code, error_body, ready)
        checks.append(Check(
            f"bad_{case.name}", outcome in ("pass", "declared"),
            f"{outcome}: status {response.status_code}, declared {status}, "
            f"ErrorBody {'yes' if error_body else 'no'}, ready after {'yes' if ready else 'no'}",
        ))
    return checks


def _info(client: httpx.Client, stack: Stack, profile: str, fingerprint: str) -> list[Check]:
    response = client.get(stack.paths["info"])
    if response.status_code != 200:
        return [Check("info", False, f"status {response.status_code}")]
    info = response.json()
    model = info.get("model", {})
    return [
        Check("info_stack", info.get("stack") == stack.name, f"reports {info.get('stack')!r}"),
        Check("info_knobs", info.get("knobs") == dict(stack.knobs),
              f"reports {info.get('knobs')}, registry {dict(stack.knobs)}"),
        Check("info_model", (model.get("profile"), model.get("sha256")) == (profile, fingerprint),
              f"reports {model.get('profile')} {str(model.get('sha256'))[:12]}, "
              f"expected {profile} {fingerprint[:12]}"),
    ]


def verify(url: str, stack: Stack, golden: Sequence[GoldenCase], profile: str,
           fingerprint: str) -> list[Check]:
    """Every check, passed or not; the caller measures the stack only if all passed."""
    with httpx.Client(base_url=url, timeout=30.0) as client:
        try:
            return [*_golden(client, stack, golden), *_bad(client, stack),
                    *_info(client, stack, profile, fingerprint)]
        except (httpx.HTTPError, ValueError) as error:
            return [Check("reachable", False, f"{type(error).__name__}: {error}")]
