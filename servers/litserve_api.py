"""The LitAPI of the LitServe stacks: setup -> decode_request -> (batch) predict (unbatch) -> encode_response.

No `from __future__ import annotations` here: LitServe reads the annotations of
decode_request and encode_response at runtime to choose how it parses bodies and answers.
"""

import multiprocessing as mp
from typing import Any, Literal

import litserve as ls
from fastapi import HTTPException
from starlette.responses import Response

from servers import metrics
from servers.contract import JSON, ContractError, batch_payload, not_ready, single_payload
from servers.registry import PATHS
from servers.service import ModelService
from shared_model.predictor import Predictions

Endpoint = Literal["single", "batch"]


def http_error(error: ContractError) -> HTTPException:
    """A ContractError as LitServe carries errors from its workers: an HTTPException."""
    detail = {"error": error.error, "message": error.message, "details": error.details}
    return HTTPException(error.status, detail=detail, headers=error.headers)


class ChurnLitAPI(ls.LitAPI):
    """One LitAPI per contract path; LitServe runs each in its own inference worker process."""

    def __init__(self, endpoint: Endpoint, max_batch_size: int = 1, batch_timeout: float = 0.0) -> None:
        path = PATHS["predict"] if endpoint == "single" else PATHS["batch"]
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout, api_path=path)
        self.endpoint = endpoint
        # Set by the inference worker once its model is loaded; read by health() in the API
        # server processes (created before both, so every process shares it).
        self.loaded = mp.get_context("spawn").Event()
        # Every LitAPI's event, once the server knows them all: readiness is server-wide, so a
        # worker answers 503 until every worker has its model, as /health/ready does.
        self.server_loaded: list[Any] = [self.loaded]
        self._server_ready = False

    def setup(self, device: str) -> None:
        # Load in the background: the server starts listening (liveness) while the model loads,
        # and LitServe's readiness (health()) turns true when it is there.
        self.service = ModelService()
        self.service.start_loading(on_loaded=self.loaded.set)

    def health(self) -> bool:
        return self.loaded.is_set()

    # Unannotated on purpose: LitServe then hands over the parsed JSON body, already
    # validated by ContractGuard in the API server process.
    def decode_request(self, request):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
        return request if self.endpoint == "single" else request["items"]

    def predict(self, x: Any) -> Predictions:
        # Batched single predictions arrive as a list of rows, an unbatched one as one row;
        # a batch request is its list of rows either way.
        rows = [x] if self.endpoint == "single" and self.max_batch_size == 1 else x
        try:
            if not self._server_ready:
                if not all(event.is_set() for event in self.server_loaded):
                    raise not_ready()
                self._server_ready = True
            return self.service.infer(rows)
        except ContractError as error:
            metrics.ERRORS.labels(self.endpoint, error.error).inc()
            raise http_error(error) from None

    def unbatch(self, output: Predictions) -> list[Predictions]:
        return [output.part(i, i + 1) for i in range(len(output))]

    def encode_response(self, output: Predictions) -> Response:
        version = self.service.require().version
        if self.endpoint == "single":
            metrics.PREDICTIONS.labels("single", "success").inc()
            return Response(single_payload(output, version), media_type=JSON)
        metrics.PREDICTIONS.labels("batch", "success").inc(len(output.classes))
        return Response(batch_payload(output, version), media_type=JSON)
