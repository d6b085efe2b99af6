"""The robustness matrix: every BAD case and every connection-level case against every stack,
recorded as it really answered.

Unlike the contract tests, nothing here is pass/fail by assumption: each answer is kept
(status, whether the body was the contract's ErrorBody, latency, readiness afterwards), and
classified against the contract and against the stack's declared deviations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from loadtests.bad_inputs import ask, fresh_client, ready_after, send_with
from loadtests.connection_cases import (
    CONNECTION_CASES,
    ConnectionCase,
    Probe,
    Seen,
    declared_status,
    judge,
    measure_baseline,
)
from loadtests.limits import scarce_resources
from loadtests.model_card import describe
from loadtests.rawhttp import RawConnection, RawResponse, request_head
from loadtests.recorder import Recorder, header_fields
from loadtests.session import ModelUnderTest, Session, run_session
from servebench.results.declarations import RUN_FLAGS
from servebench.results.kinds import CaseResult, LimitResult, RobustnessRecord, RobustnessRun
from servers.knobs import stack_variant
from servers.process import Server, ServerProcess
from servers.protocols import NativeRequest
from servers.registry import STACKS
from shared_model.cases import BAD, SEED_EXAMPLE, BadCase, GoldenCase, bad_cases
from shared_model.model_schema import ModelSchema

CASE_TIMEOUT_S = 15.0
# Model time injected per row (SERVEBENCH_SLOWDOWN_US) for the whole run: a single prediction
# costs 5 ms more, and the 100-row batch a client abandons in disconnect_mid_request half a
# second, long enough to leave while the model computes it. Bad input never reaches the model.
ROW_COST_US = 5000
TRICKLE_GAP_S = 0.005


def slow_body_case(model: ModelSchema | None = None) -> BadCase:
    """An invalid body that trickles in byte by byte: must end in a 4xx, not a hang.

    Churn's: a negative tenure; another model's: its first value below its minimum, like churn's
    (or, without bounds, its example without its first field)."""
    if model is None or model.example == SEED_EXAMPLE:
        return BadCase("slow_body", "slow", "/api/v1/predict",
                       json.dumps({**SEED_EXAMPLE, "tenure_months": -5}).encode(), 422)
    below = next((case for case in bad_cases(model) if case.kind == "below_minimum"), None)
    first = model.fields[0].name
    body = below.body if below is not None else json.dumps(
        {name: value for name, value in model.example.items() if name != first}).encode()
    return BadCase("slow_body", "slow", "/api/v1/predict", body, 422)


def slow_headers_case(model: ModelSchema | None = None) -> BadCase:
    """The same invalid request with its request line and headers trickled byte by byte."""
    return replace(slow_body_case(model), name="slow_headers")


def _send_slowly(server: Server, native: NativeRequest, trickled: str) -> tuple[int | None, bytes, str]:
    """Send `native` with its head or its body (`trickled`) one byte every TRICKLE_GAP_S."""
    headers = {**native.headers, "Content-Length": str(len(native.body)), "Connection": "close"}
    head = request_head(native.method, native.path, server.host, headers)
    try:
        with RawConnection(server.host, server.port, CASE_TIMEOUT_S) as connection:
            if trickled == "head":
                connection.trickle(head, TRICKLE_GAP_S)
                connection.send(native.body)
            else:
                connection.send(head)
                connection.trickle(native.body, TRICKLE_GAP_S)
            answer = connection.read_response()
    except OSError as error:
        return None, b"", f"{type(error).__name__}: {error}"
    if not isinstance(answer, RawResponse):
        return None, b"", str(answer)
    return answer.status, answer.body, ""


SLOW_CASES = {"slow_body": "body", "slow_headers": "head"}


def bad_inputs(server: Server, client: httpx.Client, cases: Sequence[BadCase] | None = None,
               model: ModelSchema | None = None) -> list[CaseResult]:
    """Every bad case (default: churn's BAD and the trickled ones), classified against the
    stack's declarations; the trickled ones on raw connections of their own."""
    plain = send_with(client)

    def send(case: BadCase, native: NativeRequest) -> tuple[int | None, bytes, str]:
        if case.name in SLOW_CASES:
            return _send_slowly(server, native, SLOW_CASES[case.name])
        return plain(case, native)

    with fresh_client(server, CASE_TIMEOUT_S) as fresh:
        return ask(server, cases if cases is not None else (*BAD, slow_body_case(), slow_headers_case()),
                   model, send, fresh)


def connection_level(probe: Probe, cases: Sequence[ConnectionCase] = CONNECTION_CASES) -> list[CaseResult]:
    """Every connection-level case (loadtests/connection_cases.py), timed against the stack's
    own baseline measured first."""
    server, stack = probe.server, probe.stack
    probe = replace(probe, baseline_s=measure_baseline(probe))
    results = []
    with fresh_client(server, CASE_TIMEOUT_S) as fresh:
        for case in cases:
            try:
                seen = case.run(probe)
            except OSError as error:  # could not even connect: the stack is down
                seen = Seen(None, False, 0.0, "no", f"{type(error).__name__}: {error}")
            ready = ready_after(fresh, server)
            results.append(CaseResult(
                case=case.name, group=case.group, expected=case.expected,
                declared=declared_status(stack, case), status=seen.status, error_body=seen.error_body,
                latency_ms=seen.latency_ms, ready_after=ready, outcome=judge(stack, case, seen, ready),
                detail=seen.detail,
            ))
    return results


def probe(server: ServerProcess, golden: Sequence[GoldenCase], row_cost_s: float,
          cases: Sequence[BadCase] = BAD, model: ModelSchema | None = None) -> list[CaseResult]:
    """The bad-input matrix, then the connection-level cases, against one running stack."""
    with httpx.Client(base_url=server.url, timeout=CASE_TIMEOUT_S) as client:
        found = bad_inputs(server, client, (*cases, slow_body_case(model), slow_headers_case(model)), model)
    return [*found, *connection_level(Probe(server, golden, CASE_TIMEOUT_S, row_cost_s))]


def _started(session: Session) -> ServerProcess:
    # Robustness starts every stack itself: its cases need the process (limits, connections).
    assert isinstance(session.server, ServerProcess), "robustness measures only stacks it starts"
    return session.server


def record_id(spec: str) -> str:
    """A file-name-safe id for a stack named with knob overrides (name:knob=value,...)."""
    return spec.replace(":", "+").replace(",", "+")


def robustness_run(stacks: Sequence[str], model_name: str, results_dir: Path,
                   done: Callable[[RobustnessRecord], None] = lambda _: None,
                   limits: bool = True) -> tuple[Path, RobustnessRun]:
    """Every stack (a registered name, or name:knob=value,... for a configuration of it) in a
    session of its own, answers verified first, then every case against it; then, with
    `limits`, in a second session under scarce resources (loadtests/limits.py)."""
    model = ModelUnderTest.load(model_name)
    chosen = [(spec, stack_variant(spec, STACKS)) for spec in stacks]
    header = RobustnessRun(**header_fields("robustness", [s for _, s in chosen], RUN_FLAGS),
                           model=model.described(), model_cards={model.name: describe(model)}, stacks=[],
                           row_cost_us=ROW_COST_US)
    recorder = Recorder(results_dir, header)
    env = {"SERVEBENCH_SLOWDOWN_US": str(ROW_COST_US)}
    with recorder.running():
        for spec, stack in chosen:
            rid = record_id(spec)
            found: list[CaseResult] = []

            def matrix(session: Session, found: list[CaseResult] = found) -> None:
                found.extend(probe(_started(session), session.model.golden, ROW_COST_US / 1e6,
                                   session.model.bad, session.model.schema))

            ended = run_session(stack, model, None, recorder.root / "logs" / f"{rid}.log", matrix,
                                verification="answers", env=env)
            scarce: list[LimitResult] = []
            extra: dict[str, Any] = {}
            if limits and not ended.failed:

                def limited(session: Session, scarce: list[LimitResult] = scarce) -> None:
                    scarce.extend(scarce_resources(_started(session), session.model.golden))

                under = run_session(stack, model, None, recorder.root / "logs" / f"{rid}.limits.log", limited,
                                    verification="answers", env=env)
                # A stack that dies of its limits is a finding, not a failed session.
                died = under.failed and len(scarce) == 2
                extra = {"limits": scarce, "limits_status": "ok" if not under.failed or died else "failed",
                         "limits_reason": under.reason}
            record = RobustnessRecord(**ended.launch(), record_id=rid, cases=found, **extra)
            recorder.record(record)
            recorder.update(stacks=[*recorder.header.stacks, rid])
            done(record)
    return recorder.root, recorder.header
