"""The robustness matrix: every BAD case against every stack, recorded as it really answered.

Unlike the contract tests, nothing here is pass/fail by assumption: each answer is kept
(status, whether the body was the contract's ErrorBody, latency, readiness afterwards), and
classified against the contract and against the stack's declared deviations.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import asdict, dataclass
from typing import Literal

import httpx
from pydantic import ValidationError

from servers.process import ServerProcess
from servers.registry import Stack
from shared_model.cases import BAD, SEED_EXAMPLE, BadCase
from shared_model.schemas import ErrorBody

Outcome = Literal["pass", "declared", "undeclared", "fail"]
CASE_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class CaseResult:
    case: str
    group: str
    expected: int  # the contract's status
    declared: int  # the status the stack declares (differs only for a declared deviation)
    status: int | None  # None: no answer (hang, reset)
    error_body: bool
    latency_ms: float
    ready_after: bool
    outcome: Outcome


def is_error_body(body: bytes) -> bool:
    try:
        ErrorBody.model_validate_json(body)
    except ValidationError:
        return False
    return True


def classify(stack: Stack, case: BadCase, status: int | None, error_body: bool, ready: bool) -> Outcome:
    if status is None or status >= 500 or not ready:
        return "fail"
    if status == case.status and error_body:
        return "pass"
    declared_status, declared_body = stack.expected_bad(case)
    if status == declared_status and (error_body or not declared_body):
        return "declared"
    return "undeclared" if 400 <= status < 500 else "fail"


def _send(client: httpx.Client, case: BadCase) -> tuple[int | None, bytes]:
    try:
        response = client.request(
            case.method, case.path, content=case.body,
            headers={"content-type": case.content_type, **case.headers},
        )
    except httpx.HTTPError:
        return None, b""
    return response.status_code, response.content


def slow_body_case() -> BadCase:
    """An invalid body that trickles in byte by byte: must end in a 4xx, not a hang."""
    body = json.dumps({**SEED_EXAMPLE, "tenure_months": -5}).encode()
    return BadCase("slow_body", "slow", "/api/v1/predict", body, 422)


def _send_slowly(server: ServerProcess, case: BadCase, gap_s: float = 0.005) -> tuple[int | None, bytes]:
    head = (
        f"{case.method} {case.path} HTTP/1.1\r\nHost: {server.host}\r\n"
        f"Content-Type: {case.content_type}\r\nContent-Length: {len(case.body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection((server.host, server.port), timeout=CASE_TIMEOUT_S) as sock:
            sock.sendall(head)
            for byte in case.body:
                sock.sendall(bytes([byte]))
                time.sleep(gap_s)
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
    except OSError:
        return None, b""
    status_line, _, rest = raw.partition(b"\r\n")
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return None, b""
    body = rest.partition(b"\r\n\r\n")[2]
    return int(parts[1]), body


def probe(server: ServerProcess) -> list[CaseResult]:
    stack = server.stack
    results = []
    with httpx.Client(base_url=server.url, timeout=CASE_TIMEOUT_S) as client:
        for case in (*BAD, slow_body_case()):
            started = time.perf_counter()
            if case.group == "slow":
                status, body = _send_slowly(server, case)
            else:
                status, body = _send(client, case)
            latency_ms = (time.perf_counter() - started) * 1000
            try:
                ready = client.get(stack.paths["ready"]).status_code == 200
            except httpx.HTTPError:
                ready = False
            error_body = status is not None and is_error_body(body)
            results.append(
                CaseResult(
                    case=case.name, group=case.group, expected=case.status,
                    declared=stack.expected_bad(case)[0], status=status, error_body=error_body,
                    latency_ms=round(latency_ms, 2), ready_after=ready,
                    outcome=classify(stack, case, status, error_body, ready),
                )
            )
    return results


def as_dicts(results: list[CaseResult]) -> list[dict[str, object]]:
    return [asdict(r) for r in results]
