"""Shared request cases: GOLDEN (answer known in-process) and BAD (expected 4xx).

The contract tests, the pre-run verification and the load payloads all draw from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared_model.predictor import Predictor
from shared_model.schemas import EXAMPLE_REQUEST

SEED_EXAMPLE: dict[str, Any] = EXAMPLE_REQUEST


def _customer(**changes: Any) -> dict[str, Any]:
    return {**SEED_EXAMPLE, **changes}


GOLDEN_REQUESTS: tuple[dict[str, Any], ...] = (
    SEED_EXAMPLE,
    _customer(
        tenure_months=60, monthly_charges=45.0, total_charges=2700.0, num_products=2,
        has_internet=False, contract_type="two-year", payment_method="bank",
    ),
    _customer(tenure_months=1, monthly_charges=99.9, total_charges=99.9, num_products=1),
    _customer(tenure_months=3, monthly_charges=110.0, total_charges=330.0, payment_method="mailed"),
    _customer(tenure_months=0, monthly_charges=20.0, total_charges=20.0, has_internet=False),
    _customer(
        tenure_months=120, monthly_charges=500, total_charges=60_000, num_products=10,
        contract_type="one-year", payment_method="credit",
    ),
    _customer(tenure_months=12, monthly_charges=0, total_charges=0, has_phone_service=False),
    _customer(tenure_months=7, monthly_charges=70.25, total_charges=491.75, num_products=4),
    _customer(tenure_months=36, monthly_charges=85.0, total_charges=3060.0, contract_type="one-year"),
    _customer(tenure_months=5, monthly_charges=55.5, total_charges=277.5, payment_method="bank"),
    _customer(tenure_months=48, monthly_charges=105.0, total_charges=5040.0, num_products=6),
    _customer(tenure_months=2, monthly_charges=30.0, total_charges=60.0, has_phone_service=False),
)


@dataclass(frozen=True)
class GoldenCase:
    request: dict[str, Any]
    prediction: int
    probability: tuple[float, float]  # (no_churn, churn)


def golden_cases(predictor: Predictor) -> list[GoldenCase]:
    """Expected answers for GOLDEN_REQUESTS, computed by the in-process predictor."""
    result = predictor.predict_rows(GOLDEN_REQUESTS)
    return [
        GoldenCase(request, int(c), (float(p[0]), float(p[1])))
        for request, c, p in zip(GOLDEN_REQUESTS, result.classes, result.proba, strict=True)
    ]


@dataclass(frozen=True)
class BadCase:
    name: str
    group: str
    path: str
    body: bytes
    status: int
    content_type: str = "application/json"
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)


SINGLE = "/api/v1/predict"
BATCH = "/api/v1/predict/batch"


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _single(name: str, group: str, payload: Any, status: int = 422) -> BadCase:
    return BadCase(name, group, SINGLE, _json(payload), status)


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in SEED_EXAMPLE.items() if k != key}


BAD: tuple[BadCase, ...] = (
    # Not JSON at all, or not a JSON object.
    BadCase("malformed_json", "syntax", SINGLE, b'{"tenure_months": 24,', 422),
    BadCase("empty_body", "syntax", SINGLE, b"", 422),
    BadCase("json_array", "syntax", SINGLE, b"[1, 2, 3]", 422),
    BadCase("json_null", "syntax", SINGLE, b"null", 422),
    BadCase(
        "nan_token", "syntax", SINGLE,
        json.dumps(_customer(monthly_charges=float("nan"))).encode(), 422,
    ),
    BadCase(
        "infinity_token", "syntax", SINGLE,
        json.dumps(_customer(total_charges=float("inf"))).encode(), 422,
    ),
    BadCase("trailing_garbage", "syntax", SINGLE, _json(SEED_EXAMPLE) + b" xyz", 422),
    BadCase("json_string", "syntax", SINGLE, b'"customer"', 422),
    BadCase("json_number", "syntax", SINGLE, b"42", 422),
    BadCase(
        "negative_infinity_token", "syntax", SINGLE,
        json.dumps(_customer(monthly_charges=float("-inf"))).encode(), 422,
    ),
    BadCase("invalid_utf8", "syntax", SINGLE, b'{"contract_type": "\xff\xfe"}', 422),
    BadCase(
        "deeply_nested", "syntax", SINGLE,
        b'{"tenure_months": ' + b"[" * 5000 + b"]" * 5000 + b"}", 422,
    ),
    BadCase("text_plain", "media_type", SINGLE, _json(SEED_EXAMPLE), 415, "text/plain"),
    BadCase("no_content_type", "media_type", SINGLE, _json(SEED_EXAMPLE), 415, ""),
    BadCase("json_patch_type", "media_type", SINGLE, _json(SEED_EXAMPLE), 415,
            "application/json-patch+json"),
    BadCase("form_encoded", "media_type", SINGLE, b"tenure_months=24", 415,
            "application/x-www-form-urlencoded"),
    # Schema: missing, extra and mistyped fields.
    _single("missing_field", "schema", _without("tenure_months")),
    _single("extra_field", "schema", _customer(customer_id="c-1")),
    _single("string_for_int", "schema", _customer(tenure_months="24")),
    _single("float_for_int", "schema", _customer(tenure_months=24.5)),
    _single("string_for_bool", "schema", _customer(has_internet="yes")),
    _single("unknown_contract", "schema", _customer(contract_type="weekly")),
    _single("unknown_payment", "schema", _customer(payment_method="bitcoin")),
    _single("nan_as_string", "schema", _customer(monthly_charges="NaN")),
    _single("infinity_as_string", "schema", _customer(total_charges="Infinity")),
    _single("null_field", "schema", _customer(tenure_months=None)),
    _single("bool_for_int", "schema", _customer(num_products=True)),
    _single("int_for_bool", "schema", _customer(has_phone_service=1)),
    _single("list_for_float", "schema", _customer(monthly_charges=[65.5])),
    _single("object_for_enum", "schema", _customer(contract_type={"kind": "one-year"})),
    _single("uppercase_enum", "schema", _customer(contract_type="MONTH-TO-MONTH")),
    _single("empty_object", "schema", {}),
    _single("unicode_enum", "schema", _customer(payment_method="carte bancaire \u00e9\u2603")),
    _single("long_string", "schema", _customer(contract_type="x" * 200_000)),
    _single("unicode_field_name", "schema", {**_without("tenure_months"), "ten\u00fcre_months": 24}),
    # Values outside the declared ranges.
    _single("negative_tenure", "range", _customer(tenure_months=-1)),
    _single("tenure_too_large", "range", _customer(tenure_months=121)),
    _single("zero_products", "range", _customer(num_products=0)),
    _single("charges_too_large", "range", _customer(monthly_charges=500.01, total_charges=600)),
    _single("total_below_monthly", "range", _customer(total_charges=10.0)),
    _single("huge_number", "range", _customer(total_charges=1e308)),
    _single("huge_integer", "range", _customer(tenure_months=10**40)),
    _single("negative_charges", "range", _customer(monthly_charges=-0.01)),
    _single("too_many_products", "range", _customer(num_products=11)),
    _single("total_too_large", "range", _customer(total_charges=60_000.01)),
    # Batch envelope.
    BadCase("batch_empty", "batch", BATCH, _json({"items": []}), 422),
    BadCase("batch_too_many", "batch", BATCH, _json({"items": [SEED_EXAMPLE] * 101}), 422),
    BadCase("batch_not_list", "batch", BATCH, _json({"items": SEED_EXAMPLE}), 422),
    BadCase("batch_one_bad_item", "batch", BATCH,
            _json({"items": [SEED_EXAMPLE, _customer(num_products=0)]}), 422),
    BadCase("batch_missing_items", "batch", BATCH, _json({}), 422),
    BadCase("batch_items_null", "batch", BATCH, _json({"items": None}), 422),
    BadCase("batch_extra_field", "batch", BATCH, _json({"items": [SEED_EXAMPLE], "priority": 1}), 422),
    BadCase("batch_nested_list", "batch", BATCH, _json({"items": [[SEED_EXAMPLE]]}), 422),
    BadCase("batch_bare_list", "batch", BATCH, _json([SEED_EXAMPLE]), 422),
    # Methods the contract does not offer.
    BadCase("get_on_predict", "method", SINGLE, b"", 405, method="GET"),
    BadCase("put_on_batch", "method", BATCH, _json({"items": [SEED_EXAMPLE]}), 405, method="PUT"),
    # Size limit: the contract caps bodies at 1 MiB.
    BadCase("body_2mib", "size", SINGLE,
            b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', 413),
)
