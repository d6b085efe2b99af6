"""Pydantic v2 schemas of the HTTP contract, shared by every stack."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_BATCH_ITEMS = 100

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class ContractType(StrEnum):
    MONTH_TO_MONTH = "month-to-month"
    ONE_YEAR = "one-year"
    TWO_YEAR = "two-year"


class PaymentMethod(StrEnum):
    ELECTRONIC = "electronic"
    MAILED = "mailed"
    BANK = "bank"
    CREDIT = "credit"


# The seed article's curl example: the API docs' example and the first golden case.
EXAMPLE_REQUEST: dict[str, Any] = {
    "tenure_months": 24,
    "monthly_charges": 65.5,
    "total_charges": 1572.0,
    "num_products": 3,
    "has_phone_service": True,
    "has_internet": True,
    "contract_type": "month-to-month",
    "payment_method": "electronic",
}


class PredictRequest(BaseModel):
    """One customer. Unknown fields, wrong types, NaN and infinities are rejected."""

    model_config = ConfigDict(**_STRICT, json_schema_extra={"examples": [EXAMPLE_REQUEST]})

    tenure_months: Annotated[int, Field(ge=0, le=120, description="Months as a customer")]
    monthly_charges: Annotated[float, Field(ge=0, le=500, description="Monthly charge, EUR")]
    total_charges: Annotated[float, Field(ge=0, le=60_000, description="Total billed, EUR")]
    num_products: Annotated[int, Field(ge=1, le=10, description="Subscribed products")]
    has_phone_service: bool
    has_internet: bool
    # Enum values arrive as strings whether validated from JSON bytes or from decoded dicts.
    contract_type: Annotated[ContractType, Field(strict=False)]
    payment_method: Annotated[PaymentMethod, Field(strict=False)]

    @model_validator(mode="after")
    def _total_covers_monthly(self) -> Self:
        if self.total_charges < self.monthly_charges:
            raise ValueError("total_charges must be greater than or equal to monthly_charges")
        return self


class BatchPredictRequest(BaseModel):
    model_config = _STRICT

    items: Annotated[list[PredictRequest], Field(min_length=1, max_length=MAX_BATCH_ITEMS)]


class Probability(BaseModel):
    no_churn: float
    churn: float


class PredictResponse(BaseModel):
    prediction: Literal[0, 1]
    probability: Probability
    model_version: str


class BatchItem(BaseModel):
    prediction: Literal[0, 1]
    probability: Probability


class BatchPredictResponse(BaseModel):
    results: list[BatchItem]
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
