"""The robustness matrix: every BAD case against every stack, recorded as it really answered.

Unlike the contract tests, nothing here is pass/fail by assumption: each answer is kept
(status, whether the body was the contract's ErrorBody, latency, readiness afterwards), and
classified against the contract and against the stack's declared deviations.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from loadtests.classify import classify, is_error_body
from loadtests.recorder import Recorder, header_fields
from loadtests.session import ModelUnderTest, Session, run_session
from servebench.results.declarations import RUN_FLAGS
from servebench.results.kinds import CaseResult, RobustnessRecord, RobustnessRun
from servers.process import Server
from servers.protocols import NativeRequest
from servers.registry import STACKS
from shared_model.cases import BAD, SEED_EXAMPLE, BadCase

CASE_TIMEOUT_S = 15.0


def _send(client: httpx.Client, native: NativeRequest) -> tuple[int | None, bytes]:
    try:
        response = client.request(native.method, native.path, content=native.body,
                                  headers=dict(native.headers))
    except httpx.HTTPError:
        return None, b""
    return response.status_code, response.content


def slow_body_case() -> BadCase:
    """An invalid body that trickles in byte by byte: must end in a 4xx, not a hang."""
    body = json.dumps({**SEED_EXAMPLE, "tenure_months": -5}).encode()
    return BadCase("slow_body", "slow", "/api/v1/predict", body, 422)


def _send_slowly(server: Server, native: NativeRequest,
                 gap_s: float = 0.005) -> tuple[int | None, bytes]:
    headers = "".join(f"{name}: {value}\r\n" for name, value in native.headers.items())
    head = (
        f"{native.method} {native.path} HTTP/1.1\r\nHost: {server.host}\r\n{headers}"
        f"Content-Length: {len(native.body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection((server.host, server.port), timeout=CASE_TIMEOUT_S) as sock:
            sock.sendall(head)
            for byte in native.body:
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


def probe(server: Server) -> list[CaseResult]:
    stack = server.stack
    results = []
    with httpx.Client(base_url=server.url, timeout=CASE_TIMEOUT_S) as client:
        for case in (*BAD, slow_body_case()):
            native = stack.protocol.bad_request(case, stack.paths)
            if native is None:  # the protocol cannot carry it (e.g. the contract's batch envelope)
                continue
            started = time.perf_counter()
            if case.group == "slow":
                status, body = _send_slowly(server, native)
            else:
                status, body = _send(client, native)
            latency_ms = (time.perf_counter() - started) * 1000
            try:
                ready = client.get(server.url_for("ready")).status_code == 200
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


def robustness_run(stacks: Sequence[str], model_name: str, results_dir: Path,
                   done: Callable[[RobustnessRecord], None] = lambda _: None) -> tuple[Path, RobustnessRun]:
    """Every stack in a session of its own (answers verified first), then every case against it."""
    model = ModelUnderTest.load(model_name)
    header = RobustnessRun(**header_fields("robustness", [STACKS[n] for n in stacks], RUN_FLAGS),
                           model=model.described(), stacks=[])
    recorder = Recorder(results_dir, header)
    with recorder.running():
        for name in stacks:
            found: list[CaseResult] = []

            def matrix(session: Session, found: list[CaseResult] = found) -> None:
                found.extend(probe(session.server))

            ended = run_session(STACKS[name], model, None, recorder.root / "logs" / f"{name}.log", matrix,
                                verification="answers")
            record = RobustnessRecord(**ended.launch(), record_id=name, cases=found)
            recorder.record(record)
            recorder.update(stacks=[*recorder.header.stacks, name])
            done(record)
    return recorder.root, recorder.header
