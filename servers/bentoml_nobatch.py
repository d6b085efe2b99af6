"""BentoML stack without batching: one service holds the model and answers every request itself.

This is BentoML's plain single-service shape: sync `@bentoml.api` methods run in the
service's thread pool (`threads`), one model call per request.
"""

from __future__ import annotations

from typing import Any

import bentoml
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
from servers.contract import JSON, ContractError, batch_payload, served, single_payload
from servers.contract_guard import ContractGuard
from servers.registry import PATHS
from servers.service import ModelService

KNOBS = knobs_for("bentoml_nobatch")
CONTRACT = served()  # the served model's request and answer models, from its declaration
PredictRequest = CONTRACT.single


@bentoml.service(workers=int(KNOBS["workers"]), threads=int(KNOBS["threads"]), logging=NO_ACCESS_LOG)
@bentoml.mount_asgi_app(contract_app(), path="/")
class ChurnService:
    def __init__(self) -> None:
        self.service = ModelService()
        self.service.start_loading()

    def __is_ready__(self) -> bool:  # BentoML's /readyz agrees with the contract's readiness
        return self.service.ready

    def liveness(self) -> dict[str, Any]:
        return self.service.health()

    async def model_status(self) -> dict[str, Any]:
        return status_of(self.service)

    async def model_info(self) -> dict[str, Any]:
        return self.service.info()

    @bentoml.api(route=PATHS["predict"], input_spec=PredictRequest, output_spec=CONTRACT.response)
    def predict(self, **row: Any) -> Response:
        try:
            result = self.service.infer([row])
        except ContractError as error:
            return error_response(error, "single")
        except Exception as exc:
            return unexpected("single", exc)
        metrics.PREDICTIONS.labels("single", "success").inc()
        return Response(single_payload(result, self.service.require().version), media_type=JSON)

    @bentoml.api(route=PATHS["batch"], input_spec=CONTRACT.batch, output_spec=CONTRACT.batch_response)
    def predict_batch(self, items: list[PredictRequest]) -> Response:  # type: ignore[valid-type]
        try:
            result = self.service.infer(items)
        except ContractError as error:
            return error_response(error, "batch")
        except Exception as exc:
            return unexpected("batch", exc)
        metrics.PREDICTIONS.labels("batch", "success").inc(len(items))
        return Response(batch_payload(result, self.service.require().version), media_type=JSON)


# Bad input is answered by the contract's rules before BentoML's own validation (400) sees it.
ChurnService.add_asgi_middleware(ContractGuard)  # type: ignore[attr-defined]  # added by @bentoml.service
