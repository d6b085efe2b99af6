"""Pydantic v2 schemas of the HTTP contract, shared by every stack.

The request and answer models of a model come from its declaration (contract_models.py); the
names below are those of servebench's churn models (shared_model/churn.yaml), the contract's
reference example. The error body and the model-independent reading of answers are here too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared_model.contract_models import MAX_BATCH_ITEMS, ContractModels, contract_models
from shared_model.model_schema import load_schema
from shared_model.models import CHURN_SCHEMA

CHURN: ContractModels = contract_models(load_schema(CHURN_SCHEMA))

# The seed article's curl example: the API docs' example and the first golden case.
EXAMPLE_REQUEST: dict[str, Any] = CHURN.example
ContractType = CHURN.enums["contract_type"]
PaymentMethod = CHURN.enums["payment_method"]
PredictRequest = CHURN.single
BatchPredictRequest = CHURN.batch
Probability = CHURN.probability
PredictResponse = CHURN.response
BatchItem = CHURN.batch_item
BatchPredictResponse = CHURN.batch_response

Prediction = bool | int | float | str  # a class label, or a regressor's number


class AnyAnswer(BaseModel):
    """One answer of any model, as a client reads it without knowing the model."""

    # Strict: JSON true stays a bool, 1 an int, 1.0 a float, "1" a string (lax mode would read
    # 1 and 1.0 as true and a regressor's 1.0 would not be a number).
    model_config = ConfigDict(extra="forbid", strict=True)

    prediction: Prediction = Field(union_mode="left_to_right")
    probability: dict[str, float] | None = None


class AnyPredictResponse(AnyAnswer):
    model_version: str


class AnyBatchPredictResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    results: list[AnyAnswer]
    batch_size: int
    model_version: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


ErrorCode = Literal[
    "bad_request",
    "validation_error",
    "invalid_json",
    "unsupported_media_type",
    "payload_too_large",
    "not_found",
    "method_not_allowed",
    "not_ready",
    "overloaded",
    "timeout",
    "internal_error",
]


class ErrorBody(BaseModel):
    """The one body of every error answer, 4xx and 5xx alike."""

    error: ErrorCode
    message: str
    request_id: str | None = None
    details: list[FieldError] = Field(default_factory=list)


__all__ = ["MAX_BATCH_ITEMS", "AnyBatchPredictResponse", "AnyPredictResponse", "BatchItem",
           "BatchPredictRequest", "BatchPredictResponse", "ContractType", "ErrorBody", "ErrorCode",
           "FieldError", "PaymentMethod", "PredictRequest", "PredictResponse", "Probability"]
