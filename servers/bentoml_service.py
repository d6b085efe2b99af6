"""BentoML stack with adaptive batching: a public API service in front of a batchable model service.

BentoML batches calls to a `batchable=True` API, and a batchable API takes exactly one batch
argument; for inputs with several fields its guide puts a wrapper service in front that
depends (`bentoml.depends`) on the batchable one. Here the public `ChurnAPI` (async, no model)
validates each request and turns it into one array: the feature matrix for a model that takes
one, else its validated values (an object array, one column per field); `ChurnModel`'s
dispatcher stacks the arrays of concurrent calls, converts the batch once and makes one model
call, and the answers travel back as one array (class index and probabilities, or values).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bentoml
import numpy as np
from starlette.responses import Response

from servers import metrics
from servers.bentoml_common import (
    NO_ACCESS_LOG,
    contract_app,
    error_response,
    knobs_for,
    status_of,
    unexpected,
)
from servers.contract import (
    JSON,
    ContractError,
    batch_payload,
    not_ready,
    overloaded,
    served,
    single_payload,
)
from servers.contract_guard import ContractGuard
from servers.registry import PATHS
from servers.service import ModelService
from shared_model.convert import Converter
from shared_model.predictor import Predictions

KNOBS = knobs_for("bentoml")
CONTRACT = served()  # the served model's request and answer models, from its declaration
SCHEMA = CONTRACT.schema
CONVERTER = Converter(SCHEMA)
# A matrix-input model gets its float matrix built per request (cheap); any other model gets the
# validated values, converted to its input once per batch in the model service.
MATRIX = SCHEMA.input == "matrix"
PredictRequest = CONTRACT.single


@bentoml.service(
    workers=int(KNOBS["workers"]),
    threads=int(KNOBS["threads"]),
    traffic={"concurrency": int(KNOBS["max_batch_size"])},
    # Since 1.4.30 the caller's client replaces its HTTP session every 100 calls (or 5 min) by
    # closing the old one, which aborts the calls still in flight on it (BentoML issues #5540,
    # #5544): ~10% of requests failed at 16 concurrent clients. These are the service's
    # `runner_connection` settings that bound it; raised so no refresh happens mid-run.
    runner_connection={"max_requests": 2**31 - 1, "max_age": 7 * 24 * 3600.0},
    logging=NO_ACCESS_LOG,
)
class ChurnModel:
    """Holds the model; only ChurnAPI calls it."""

    def __init__(self) -> None:
        self.service = ModelService()
        self.service.start_loading()

    def __is_ready__(self) -> bool:
        return self.service.ready

    @bentoml.api(
        batchable=True,
        batch_dim=0,
        max_batch_size=int(KNOBS["max_batch_size"]),
        max_latency_ms=int(KNOBS["max_latency_ms"]),
    )
    def predict(self, features: np.ndarray) -> np.ndarray:
        """The answers (Predictor.to_array) for the stacked rows of every call in the batch."""
        X = features if MATRIX else CONVERTER.from_object_matrix(features)
        predictor = self.service.require()
        return predictor.to_array(self.service.infer_input(X))

    @bentoml.api
    def status(self) -> dict[str, Any]:
        return status_of(self.service)

    @bentoml.api
    def info(self) -> dict[str, Any]:
        return self.service.info()


@bentoml.service(workers=int(KNOBS["workers"]), logging=NO_ACCESS_LOG)
@bentoml.mount_asgi_app(contract_app(), path="/")
class ChurnAPI:
    model = bentoml.depends(ChurnModel)

    def __init__(self) -> None:
        self.host = ModelService()  # liveness only: the model lives in ChurnModel
        self.host.freeze_startup_heap()
        self.version: str | None = None

    async def __is_ready__(self) -> bool:
        return (await self.model_status())["ready"]

    def liveness(self) -> dict[str, Any]:
        return self.host.health()

    async def model_status(self) -> dict[str, Any]:
        try:
            return await self.model.to_async.status()
        except Exception:  # the model service is not listening yet
            return {"ready": False}

    async def model_info(self) -> dict[str, Any]:
        return await self.model.to_async.info()

    async def _infer(self, rows: Sequence[Any]) -> tuple[Predictions, str]:
        if self.version is None:  # asked until the model is there, then never again
            status = await self.model_status()
            if not status["ready"]:
                raise not_ready()
            self.version = status["version"]
        features = CONVERTER.rows_input(rows) if MATRIX else CONVERTER.object_matrix(rows)
        try:
            answers = await self.model.to_async.predict(features)
        except bentoml.exceptions.ServiceUnavailable:  # the dispatcher shed it (max_latency_ms)
            raise overloaded() from None
        return Predictions.from_array(answers, SCHEMA), self.version

    @bentoml.api(route=PATHS["predict"], input_spec=PredictRequest, output_spec=CONTRACT.response)
    async def predict(self, **row: Any) -> Response:
        try:
            result, version = await self._infer([row])
        except ContractError as error:
            return error_response(error, "single")
        except Exception as exc:
            return unexpected("single", exc)
        metrics.PREDICTIONS.labels("single", "success").inc()
        return Response(single_payload(result, version), media_type=JSON)

    @bentoml.api(route=PATHS["batch"], input_spec=CONTRACT.batch, output_spec=CONTRACT.batch_response)
    async def predict_batch(self, items: list[PredictRequest]) -> Response:  # type: ignore[valid-type]
        try:
            result, version = await self._infer(items)
        except ContractError as error:
            return error_response(error, "batch")
        except Exception as exc:
            return unexpected("batch", exc)
        metrics.PREDICTIONS.labels("batch", "success").inc(len(items))
        return Response(batch_payload(result, version), media_type=JSON)


ChurnAPI.add_asgi_middleware(ContractGuard)  # type: ignore[attr-defined]  # added by @bentoml.service
