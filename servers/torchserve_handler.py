"""TorchServe handler for the churn classifier: TorchServe's class-level entry point for a model
that is not a PyTorch module (a class with `initialize` and `handle`, no BaseHandler).

TorchServe's frontend (Java) batches up to batch_size requests, waiting at most max_batch_delay,
and hands the batch to this handler in a Python worker process. Each request's body is the
contract's: a customer, or {"items": [...]}, validated by the contract's own parsers
(servers/contract.py); bad ones get the contract's ErrorBody and status through TorchServe's
per-request response status. The valid requests' rows become one matrix and one model call.
The contract's ml_* metrics go through TorchServe's custom metrics API (context.metrics); its
frontend exports them in Prometheus format on the metrics port.
"""

from __future__ import annotations

import json
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

from servers.contract import (
    JSON,
    MAX_BODY_BYTES,
    ContractError,
    batch_payload,
    check_media_type,
    parse_batch,
    parse_single,
    single_payload,
    too_large,
)
from servers.service import ModelService


class ChurnHandler:
    def __init__(self) -> None:
        self.initialized = False
        self.service: ModelService | None = None

    def initialize(self, context: Any) -> None:
        model_dir = Path(context.system_properties["model_dir"])
        serialized = context.manifest["model"]["serializedFile"]
        service = ModelService()
        service.load(artifact=model_dir / serialized)
        self.service = service
        self.initialized = True

    def handle(self, data: list[dict[str, Any]], context: Any) -> list[bytes]:
        assert self.service is not None
        answers: list[bytes] = [b""] * len(data)
        parsed: list[tuple[int, str, list[Any]]] = []  # (index, endpoint, rows)
        for idx, request in enumerate(data):
            body = request.get("body")
            if body is None:
                body = request.get("data", b"")
            body = bytes(body) if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
            endpoint = "batch" if b'"items"' in body else "single"
            try:
                check_media_type(context.get_request_header(idx, "Content-Type"))
                if len(body) > MAX_BODY_BYTES:
                    raise too_large()
                if endpoint == "batch":
                    parsed.append((idx, endpoint, parse_batch(body).items))
                else:
                    parsed.append((idx, endpoint, [parse_single(body)]))
            except ContractError as error:
                answers[idx] = self._error(context, idx, endpoint, error)
        if parsed:
            rows = [row for _, _, request_rows in parsed for row in request_rows]
            started = time.perf_counter()
            result = self.service.infer(rows)
            seconds = time.perf_counter() - started
            version = self.service.require().version
            start = 0
            counts = {"single": 0, "batch": 0}
            for idx, endpoint, request_rows in parsed:
                end = start + len(request_rows)
                part = result.part(start, end)
                payload = single_payload if endpoint == "single" else batch_payload
                answers[idx] = payload(part, version)
                context.set_response_content_type(idx, JSON)
                counts[endpoint] += len(request_rows)
                start = end
            self._observe(context, counts, len(rows), seconds)
        return answers

    @staticmethod
    def _error(context: Any, idx: int, endpoint: str, error: ContractError) -> bytes:
        context.set_response_status(error.status, HTTPStatus(error.status).phrase, idx)
        context.set_response_content_type(idx, JSON)
        context.metrics.add_counter("ml_errors_total", 1, None, _dims(endpoint=endpoint, error=error.error))
        return error.body()

    @staticmethod
    def _observe(context: Any, counts: dict[str, int], rows: int, seconds: float) -> None:
        from ts.metrics.metric_type_enum import MetricTypes

        for endpoint, count in counts.items():
            if count:
                context.metrics.add_counter("ml_predictions_total", count, None,
                                            _dims(endpoint=endpoint, outcome="success"))
        context.metrics.add_metric("ml_inference_duration_seconds", seconds, "s", None, [],
                                   MetricTypes.HISTOGRAM)
        context.metrics.add_metric("ml_batch_size", rows, "count", None, [], MetricTypes.HISTOGRAM)


def _dims(**values: str) -> list[Any]:
    from ts.metrics.dimension import Dimension

    return [Dimension(name, value) for name, value in values.items()]

