"""How a client asks a stack for predictions, declared per stack.

Most stacks serve the contract's own paths and bodies. A framework that cannot (Triton speaks
only the Open Inference / KServe v2 protocol; TorchServe and MLflow have fixed paths) declares
its native protocol instead, and every client of servebench (load generators, verification,
robustness, the gate) translates the contract's rows into the native request once, at plan
time, and the native answer back into the contract's terms to check it. Never a proxy in front
of the stack: a proxy adds a hop and its own event loop, and the numbers would be the proxy's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from shared_model.schemas import EXAMPLE_REQUEST as SEED_EXAMPLE
from shared_model.schemas import BatchPredictResponse, PredictResponse

if TYPE_CHECKING:  # load generators import this module: it must not pull in the model's libraries
    from shared_model.cases import BadCase

JSON = "application/json"
Row = Mapping[str, Any]  # one request row in the contract's terms: field name -> value
# The contract's prediction paths, as the bad cases name them.
CONTRACT_PATHS: Mapping[str, str] = {"predict": "/api/v1/predict", "batch": "/api/v1/predict/batch"}


@dataclass(frozen=True)
class NativeRequest:
    """One HTTP request, ready to send (built once, sent many times)."""

    method: str
    path: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": JSON})


@dataclass(frozen=True)
class Answer:
    """One row's answer in the contract's terms."""

    prediction: Any  # the class label (classifiers) or the number (regressors)
    probability: Mapping[str, float] | None  # label -> probability, for classifiers


class NotAnAnswer(ValueError):
    """The body is not the protocol's answer for the rows sent."""


class Protocol:
    """The contract itself: POST a row to `predict`, `{"items": rows}` to `batch`."""

    name = "contract"
    description = "servebench's HTTP contract: its paths, bodies, errors and probes"
    # The contract's readiness body says {"status": "ready"}; frameworks' own readiness paths
    # say it with their status code alone (Open Inference: 200; TorchServe's and MLflow's /ping: 200).
    ready_in_body = True

    def request(self, rows: Sequence[Row], batch: bool, paths: Mapping[str, str]) -> NativeRequest:
        singles = [json.dumps(row).encode() for row in rows]
        if batch:
            return NativeRequest("POST", paths["batch"], b'{"items":[' + b",".join(singles) + b"]}")
        (single,) = singles
        return NativeRequest("POST", paths["predict"], single)

    def answers(self, body: bytes, rows: int, batch: bool) -> list[Answer]:
        """The answers in a 200 body, one per row sent; NotAnAnswer when it is not one."""
        try:
            if batch:
                many = BatchPredictResponse.model_validate_json(body)
                items = [(i.prediction, i.probability.model_dump()) for i in many.results]
                if many.batch_size != len(items):
                    raise NotAnAnswer(f"batch_size {many.batch_size} for {len(items)} results")
            else:
                one = PredictResponse.model_validate_json(body)
                items = [(one.prediction, one.probability.model_dump())]
        except ValidationError as error:
            raise NotAnAnswer(f"not a prediction: {body[:200]!r}") from error
        if len(items) != rows:
            raise NotAnAnswer(f"{len(items)} answers for {rows} rows")
        return [Answer(prediction, probability) for prediction, probability in items]

    def bad_request(self, case: BadCase, paths: Mapping[str, str]) -> NativeRequest | None:
        """The bad case as this protocol would carry it, or None where it cannot express it."""
        path = paths["batch"] if case.path == CONTRACT_PATHS["batch"] else (
            paths["predict"] if case.path == CONTRACT_PATHS["predict"] else case.path)
        headers = {"Content-Type": case.content_type, **case.headers}
        return NativeRequest(case.method, path, case.body, headers)

    def ready(self, status: int, body: bytes) -> bool:
        """Whether a readiness answer says ready."""
        if status != 200 or not self.ready_in_body:
            return status == 200
        try:
            return bool(json.loads(body).get("status") == "ready")
        except (ValueError, AttributeError):
            return False


CONTRACT = Protocol()


# The tensor datatype of each contract field in the Open Inference Protocol (servers/columns.py
# types the same fields on the server side).
V2_DATATYPES: Mapping[str, str] = {
    "tenure_months": "INT64",
    "monthly_charges": "FP64",
    "total_charges": "FP64",
    "num_products": "INT64",
    "has_phone_service": "BOOL",
    "has_internet": "BOOL",
    "contract_type": "BYTES",
    "payment_method": "BYTES",
}
LABELS = ("no_churn", "churn")  # the probability columns, in the model's class order


def _columns(rows: Sequence[Row]) -> dict[str, list[Any]]:
    """One list per field: the contract's fields first, then any other key the rows carry (a
    bad row's unknown field becomes an unknown input); a field no row has is left out (a bad
    row's missing field becomes a missing input). Rows of one request share their keys."""
    keys = [name for name in V2_DATATYPES if name in rows[0]]
    keys += [name for name in rows[0] if name not in V2_DATATYPES]
    try:
        return {name: [row[name] for row in rows] for name in keys}
    except KeyError as error:
        raise ValueError(f"rows of one request must carry the same fields: {error}") from None


def _datatype(name: str, values: Sequence[Any]) -> str:
    if name in V2_DATATYPES:
        return V2_DATATYPES[name]
    kinds = {type(value) for value in values}
    if kinds <= {bool}:
        return "BOOL"
    if kinds <= {int}:
        return "INT64"
    if kinds <= {int, float}:
        return "FP64"
    return "BYTES"


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits (a bad case): the standard library writes them
        return json.dumps(value, allow_nan=True).encode()


class _RowsProtocol(Protocol):
    """A protocol that carries rows in its own envelope: a bad case's row is re-encoded in it;
    what the envelope cannot carry (the contract's {"items": ...} shape) cannot be sent."""

    ready_in_body = False

    def bad_request(self, case: BadCase, paths: Mapping[str, str]) -> NativeRequest | None:
        good = self.request([SEED_EXAMPLE], False, paths)
        if case.group in ("schema", "range", "slow"):
            return self.request([json.loads(case.body)], False, paths)
        if case.name == "batch_too_many":
            return self.request([SEED_EXAMPLE] * 101, True, paths)
        if case.name == "batch_one_bad_item":
            return self.request(json.loads(case.body)["items"], True, paths)
        if case.group == "media_type":
            headers = {"Content-Type": case.content_type} if case.content_type else {}
            return NativeRequest("POST", good.path, good.body, headers)
        if case.group == "method":
            return NativeRequest(case.method, good.path, good.body if case.body else b"", dict(good.headers))
        if case.group in ("syntax", "size"):
            return NativeRequest("POST", good.path, case.body, {"Content-Type": JSON})
        return None  # the contract's batch envelope ({"items": ...}) has no counterpart


class OpenInference(_RowsProtocol):
    """KServe v2 / Open Inference Protocol over HTTP/JSON (Triton, KServe).

    One input tensor per contract field, shape [n, 1] (n rows: 1 for a single prediction);
    outputs `prediction` INT64 [n, 1] and `probability` FP64 [n, 2] (no_churn, churn).
    Single and batch requests differ only in n: both go to the model's infer path.
    """

    name = "open-inference-v2"
    description = "Open Inference (KServe v2) protocol: POST /v2/models/<model>/infer with tensors"

    def request(self, rows: Sequence[Row], batch: bool, paths: Mapping[str, str]) -> NativeRequest:
        n = len(rows)
        if not batch and n != 1:
            raise ValueError("a single prediction is one row")
        inputs = [
            {"name": name, "datatype": _datatype(name, values), "shape": [n, 1], "data": values}
            for name, values in _columns(rows).items()
        ]
        return NativeRequest("POST", paths["batch" if batch else "predict"], _dumps({"inputs": inputs}))

    def answers(self, body: bytes, rows: int, batch: bool) -> list[Answer]:
        try:
            outputs = {output["name"]: output for output in orjson.loads(body)["outputs"]}
            classes = outputs["prediction"]["data"]
            proba = outputs["probability"]["data"]
            if outputs["probability"]["shape"] != [rows, 2] or len(proba) != 2 * rows:
                raise NotAnAnswer(f"probability shape {outputs['probability']['shape']} for {rows} rows")
            found = [
                Answer(classes[i], dict(zip(LABELS, proba[2 * i:2 * i + 2], strict=True)))
                for i in range(len(classes))
            ]
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise NotAnAnswer(f"not an inference response: {body[:200]!r}") from error
        if len(found) != rows:
            raise NotAnAnswer(f"{len(found)} answers for {rows} rows")
        return found


class ContractBodies(Protocol):
    """The contract's bodies (a customer, or {"items": [...]}; its answers and ErrorBody) on a
    framework's own path: TorchServe serves every model at /predictions/<model>."""

    ready_in_body = False

    name = "contract-bodies"
    description = "the contract's request and answer bodies at the framework's own prediction path"

    def bad_request(self, case: BadCase, paths: Mapping[str, str]) -> NativeRequest | None:
        path = paths["batch"] if case.path == CONTRACT_PATHS["batch"] else paths["predict"]
        headers = {"Content-Type": case.content_type} if case.content_type else {}
        return NativeRequest(case.method, path, case.body, {**headers, **case.headers})


class MLflowInvocations(_RowsProtocol):
    """MLflow's scoring protocol: POST /invocations with a `dataframe_split` table, one column
    per contract field; the answer is {"predictions": [{"prediction", "no_churn", "churn"}, ...]}."""

    name = "mlflow-invocations"
    description = "MLflow scoring server: POST /invocations, dataframe_split in, predictions out"

    def request(self, rows: Sequence[Row], batch: bool, paths: Mapping[str, str]) -> NativeRequest:
        if not batch and len(rows) != 1:
            raise ValueError("a single prediction is one row")
        columns = _columns(rows)
        data = [list(values) for values in zip(*columns.values(), strict=True)]
        body = _dumps({"dataframe_split": {"columns": list(columns), "data": data}})
        return NativeRequest("POST", paths["batch" if batch else "predict"], body)

    def answers(self, body: bytes, rows: int, batch: bool) -> list[Answer]:
        try:
            found = [
                Answer(item["prediction"], {label: item[label] for label in LABELS})
                for item in orjson.loads(body)["predictions"]
            ]
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise NotAnAnswer(f"not MLflow predictions: {body[:200]!r}") from error
        if len(found) != rows:
            raise NotAnAnswer(f"{len(found)} answers for {rows} rows")
        return found


OPEN_INFERENCE = OpenInference()
CONTRACT_BODIES = ContractBodies()
MLFLOW_INVOCATIONS = MLflowInvocations()
# Every protocol by name: plans carry the name across the process boundary.
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (CONTRACT, OPEN_INFERENCE, CONTRACT_BODIES,
                                                     MLFLOW_INVOCATIONS)}
