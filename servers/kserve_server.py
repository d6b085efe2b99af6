"""KServe stack: a `kserve.Model` subclass served by KServe's Python `ModelServer`.

    python -m servers.kserve_server --host H --http_port P --workers N --enable_grpc false ...

The flags after --host are KServe's own (`kserve.model_server.parser`, the documented way to
start a custom model server). KServe serves the Open Inference (v2) protocol at
/v2/models/churn/infer; `predict` receives the decoded tensors, validates them and builds the
model matrix for the whole request (servers/columns.py), makes one model call and answers with
`prediction` and `probability` tensors. The model is loaded before the server starts listening,
as KServe requires (ModelServer.start refuses to start without a ready model).

Loopback: KServe's RESTServer binds 0.0.0.0 unconditionally (no flag). The launcher narrows
that to --host by setting the uvicorn config's host after KServe builds it; nothing else of
KServe's REST server changes.
"""

from __future__ import annotations

import argparse
import atexit
import copy
import json
import os
import tempfile
from typing import Any

import kserve
import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, ModelServer, model_server
from kserve import logging as kserve_logging
from kserve.errors import InvalidInput
from kserve.protocol.rest import server as rest_server

from servers import metrics
from servers.columns import InvalidColumns, input_from_columns
from servers.contract import new_request_id
from servers.protocols import prediction_datatype
from servers.service import ModelService

MODEL_NAME = "churn"


def _values(tensor: Any) -> np.ndarray:
    """A tensor's values as the JSON carried them (KServe's `as_numpy` casts to the declared
    datatype, turning 24.5 into 24 and "yes" into True); binary tensors through `as_numpy`."""
    if not isinstance(tensor.data, list):
        return tensor.as_numpy()
    values = np.asarray(tensor.data)
    try:
        return values.reshape(tensor.shape)
    except ValueError:
        raise InvalidColumns([{"loc": [tensor.name], "msg": f"{values.size} values for shape {tensor.shape}",
                               "type": "shape"}]) from None


class ChurnModel(kserve.Model):
    """The churn classifier as a KServe model: v2 tensors in, prediction and probability out."""

    def __init__(self, name: str = MODEL_NAME) -> None:
        super().__init__(name)
        self.service = ModelService()

    def load(self) -> bool:
        self.service.load()  # sha256-checked artifact, then the gc_freeze knob
        self.ready = True
        return self.ready

    def predict(self, payload: Any, headers: dict[str, str] | None = None) -> InferResponse:
        # KServe calls a synchronous predict on its event loop, as its own sklearn server does.
        if not isinstance(payload, InferRequest):
            raise InvalidInput("send an Open Inference (v2) request to /v2/models/churn/infer")
        rows = payload.inputs[0].shape[0] if payload.inputs and payload.inputs[0].shape else 0
        endpoint = "single" if rows == 1 else "batch"
        predictor = self.service.require()
        try:
            columns = {tensor.name: _values(tensor) for tensor in payload.inputs}
            X = input_from_columns(predictor.schema, columns,
                                   converter=predictor.converter)
        except InvalidColumns as error:
            metrics.ERRORS.labels(endpoint, "validation_error").inc()
            raise InvalidInput(str(error)) from None
        result = self.service.infer_input(X)
        n = len(result)
        metrics.PREDICTIONS.labels(endpoint, "success").inc(n)
        datatype = prediction_datatype(predictor.schema.classes)
        classes = result.classes.tolist() if datatype != "INT64" else result.classes.astype(np.int64).tolist()
        outputs = [InferOutput("prediction", [n, 1], datatype, [[value] for value in classes])]
        if result.proba is not None:
            outputs.append(InferOutput("probability", [n, result.proba.shape[1]], "FP64",
                                       result.proba.tolist()))
        return InferResponse(response_id=payload.id or new_request_id(), model_name=self.name,
                             infer_outputs=outputs)


class _LoopbackRESTServer(rest_server.RESTServer):
    """KServe's REST server, listening on the launcher's --host instead of 0.0.0.0."""

    host = "127.0.0.1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.host = self.host


def _bind_to(host: str) -> None:
    _LoopbackRESTServer.host = host
    model_server.RESTServer = _LoopbackRESTServer
    from kserve.protocol.rest.multiprocess import server as multiprocess_server

    multiprocess_server.RESTServer = _LoopbackRESTServer


def _quiet_log_config() -> str:
    """KServe's own log configuration, without its per-request lines (uvicorn's access log and
    the kserve.trace timing line), as on every other stack; a file, so that worker processes
    started by KServe read it too (--log_config_file)."""
    config = copy.deepcopy(kserve_logging.KSERVE_LOG_CONFIG)
    for name in ("uvicorn.access", "kserve.trace"):
        config["loggers"][name]["level"] = "WARNING"
    handle, path = tempfile.mkstemp(prefix="kserve-log-", suffix=".json")
    with os.fdopen(handle, "w") as file:
        json.dump(config, file)
    atexit.register(os.unlink, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(parents=[model_server.parser], description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    args, _ = parser.parse_known_args()
    _bind_to(args.host)
    if model_server.args.log_config_file is None:
        model_server.args.log_config_file = _quiet_log_config()
        kserve_logging.configure_logging(model_server.args.log_config_file)
    model = ChurnModel(args.model_name)
    model.load()
    ModelServer().start([model])


if __name__ == "__main__":
    main()
