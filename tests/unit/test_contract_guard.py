from __future__ import annotations

import asyncio
import json

import httpx
from prometheus_client import REGISTRY

from servers.contract import MAX_BODY_BYTES
from servers.contract_guard import ContractGuard
from servers.registry import PATHS
from shared_model.cases import SEED_EXAMPLE
from shared_model.schemas import ErrorBody


class Downstream:
    """Stands for the framework behind the guard: records what reaches it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _post(path: str, body: bytes, content_type: str = "application/json",
          method: str = "POST") -> tuple[httpx.Response, Downstream]:
    downstream = Downstream()

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=ContractGuard(downstream))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, content=body,
                                        headers={"content-type": content_type})

    return asyncio.run(go()), downstream


def _errors(endpoint: str, error: str) -> float:
    labels = {"endpoint": endpoint, "error": error}
    return REGISTRY.get_sample_value("ml_errors_total", labels) or 0.0


def test_a_valid_body_reaches_the_framework_unchanged() -> None:
    body = json.dumps(SEED_EXAMPLE).encode()
    response, downstream = _post(PATHS["predict"], body)
    assert response.status_code == 200
    assert downstream.bodies == [body]


def test_bad_bodies_get_the_contract_answer_and_never_reach_the_framework() -> None:
    cases = [
        (PATHS["predict"], b'{"tenure_months": 24,', "application/json", 422, "invalid_json"),
        (PATHS["predict"], json.dumps({**SEED_EXAMPLE, "x": 1}).encode(), "application/json",
         422, "validation_error"),
        (PATHS["batch"], b'{"items": []}', "application/json", 422, "validation_error"),
        (PATHS["predict"], json.dumps(SEED_EXAMPLE).encode(), "text/plain", 415,
         "unsupported_media_type"),
        (PATHS["predict"], b"x" * (MAX_BODY_BYTES + 1), "application/json", 413, "payload_too_large"),
    ]
    for path, body, content_type, status, error in cases:
        endpoint = "batch" if path == PATHS["batch"] else "single"
        before = _errors(endpoint, error)
        response, downstream = _post(path, body, content_type)
        assert response.status_code == status, (path, error)
        assert ErrorBody.model_validate(response.json()).error == error
        assert downstream.bodies == []
        assert _errors(endpoint, error) == before + 1


def test_other_paths_and_methods_pass_through() -> None:
    for method, path in (("GET", PATHS["predict"]), ("POST", "/elsewhere"), ("GET", PATHS["health"])):
        response, downstream = _post(path, b"not json", "text/plain", method)
        assert response.status_code == 200
        assert downstream.bodies == [b"not json"]
