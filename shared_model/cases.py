"""Shared request cases: GOLDEN (answer known in-process) and BAD (expected 4xx).

The contract tests, the pre-run verification and the load payloads all draw from here. The churn
models' cases are written by hand (GOLDEN_REQUESTS, BAD); any other model's bad cases are
generated from its declaration (`bad_cases`): every field missing, null where not nullable, of
the wrong type, below and above its bounds, an unknown category, NaN and Infinity, an unknown
field, beside the generic ones (syntax, media type, size, method, the batch envelope).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared_model.model_schema import FieldSpec, ModelSchema
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
    prediction: Any  # the class label (a classifier's) or the value (a regressor's)
    probability: tuple[float, ...]  # in the model's class order (churn: no_churn, churn); () for a regressor


def golden_cases(predictor: Predictor, requests: Sequence[dict[str, Any]] | None = None) -> list[GoldenCase]:
    """Expected answers for `requests` (default GOLDEN_REQUESTS), computed by the in-process predictor."""
    rows = list(GOLDEN_REQUESTS if requests is None else requests)
    result = predictor.predict_rows(rows)
    values = result.classes.tolist()
    if result.proba is None:
        return [GoldenCase(request, value, ()) for request, value in zip(rows, values, strict=True)]
    return [
        GoldenCase(request, value, tuple(float(p) for p in row))
        for request, value, row in zip(rows, values, result.proba.tolist(), strict=True)
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
    # What the case does, whichever field it does it to (a generated case's name carries the
    # field: "age.missing_field"); stacks declare deviations by name, kind or group.
    kind: str = ""

    @property
    def kinds(self) -> tuple[str, ...]:
        """The names a declared deviation may use for this case."""
        return (self.name, self.kind or self.name, self.group)


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


# ---- cases generated from a declaration --------------------------------------------------------

def _generic(example: dict[str, Any], first: str) -> list[BadCase]:
    """The model-independent cases, carried by the model's own example."""
    good = _json(example)
    return [
        BadCase("malformed_json", "syntax", SINGLE, good[:-1] + b",", 422),
        BadCase("empty_body", "syntax", SINGLE, b"", 422),
        BadCase("json_array", "syntax", SINGLE, b"[1, 2, 3]", 422),
        BadCase("json_null", "syntax", SINGLE, b"null", 422),
        BadCase("trailing_garbage", "syntax", SINGLE, good + b" xyz", 422),
        BadCase("json_string", "syntax", SINGLE, b'"row"', 422),
        BadCase("json_number", "syntax", SINGLE, b"42", 422),
        BadCase("invalid_utf8", "syntax", SINGLE, b'{"' + first.encode() + b'": "\xff\xfe"}', 422),
        BadCase("deeply_nested", "syntax", SINGLE,
                b'{"' + first.encode() + b'": ' + b"[" * 5000 + b"]" * 5000 + b"}", 422),
        BadCase("text_plain", "media_type", SINGLE, good, 415, "text/plain"),
        BadCase("no_content_type", "media_type", SINGLE, good, 415, ""),
        BadCase("json_patch_type", "media_type", SINGLE, good, 415, "application/json-patch+json"),
        BadCase("form_encoded", "media_type", SINGLE, f"{first}=1".encode(), 415,
                "application/x-www-form-urlencoded"),
        _single("extra_field", "schema", {**example, "servebench_unknown_field": 1}),
        _single("empty_object", "schema", {}),
        BadCase("batch_empty", "batch", BATCH, _json({"items": []}), 422),
        BadCase("batch_too_many", "batch", BATCH, _json({"items": [example] * 101}), 422),
        BadCase("batch_not_list", "batch", BATCH, _json({"items": example}), 422),
        BadCase("batch_one_bad_item", "batch", BATCH,
                _json({"items": [example, {**example, first: "servebench-wrong"}]}), 422),
        BadCase("batch_missing_items", "batch", BATCH, _json({}), 422),
        BadCase("batch_items_null", "batch", BATCH, _json({"items": None}), 422),
        BadCase("batch_extra_field", "batch", BATCH, _json({"items": [example], "priority": 1}), 422),
        BadCase("batch_nested_list", "batch", BATCH, _json({"items": [[example]]}), 422),
        BadCase("batch_bare_list", "batch", BATCH, _json([example]), 422),
        BadCase("get_on_predict", "method", SINGLE, b"", 405, method="GET"),
        BadCase("put_on_batch", "method", BATCH, _json({"items": [example]}), 405, method="PUT"),
        BadCase("body_2mib", "size", SINGLE, b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', 413),
    ]


def _within(spec: FieldSpec, value: float) -> bool:
    return (spec.minimum is None or value >= spec.minimum) and (spec.maximum is None or value <= spec.maximum)


def _wrong_types(spec: FieldSpec, value: Any) -> list[tuple[str, Any]]:
    """(kind, value) of the wrong-type cases of one field. A boolean for a number is sent only
    where it reads as a number within bounds (true as 1, false as 0): a framework that converts
    it then answers the same whatever the field."""
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    flag = next((b for b in (True, False) if _within(spec, float(b))), None)
    if spec.type == "integer":
        base = int(number) if number is not None else int(spec.minimum or 0)
        cases: list[tuple[str, Any]] = [("string_for_int", str(base)), ("float_for_int", base + 0.5)]
        return cases + ([("bool_for_int", flag)] if flag is not None else [])
    if spec.type == "number":
        base_f = float(number) if number is not None else float(spec.minimum or 0)
        cases = [("string_for_float", str(base_f)), ("list_for_float", [base_f])]
        return cases + ([("bool_for_float", flag)] if flag is not None else [])
    if spec.type == "boolean":
        return [("string_for_bool", "yes"), ("int_for_bool", 1)]
    return [("number_for_category", 1), ("object_for_category", {"value": (spec.categories or ["x"])[0]})]


def _field_cases(spec: FieldSpec, example: dict[str, Any]) -> list[BadCase]:
    name = spec.name

    def case(kind: str, group: str, row: Any, raw: bytes | None = None) -> BadCase:
        body = raw if raw is not None else _json(row)
        return BadCase(f"{name}.{kind}", group, SINGLE, body, 422, kind=kind)

    out = [case("missing_field", "schema", {k: v for k, v in example.items() if k != name})]
    if not spec.nullable:  # (a boolean's null apart: some frameworks read it as false)
        out.append(case("null_for_bool" if spec.type == "boolean" else "null_field", "schema",
                        {**example, name: None}))
    out += [case(kind, "schema", {**example, name: value})
            for kind, value in _wrong_types(spec, example[name])]
    if spec.type in ("integer", "number"):
        step = 1 if spec.type == "integer" else max(abs(spec.maximum or 0), abs(spec.minimum or 0), 1) * 0.01
        if spec.minimum is not None:
            low = spec.minimum - step
            out.append(case("below_minimum", "range",
                            {**example, name: int(low) if spec.type == "integer" else low}))
        if spec.maximum is not None:
            high = spec.maximum + step
            out.append(case("above_maximum", "range",
                            {**example, name: int(high) if spec.type == "integer" else high}))
    if spec.type == "number":
        for kind, token in (("nan_token", float("nan")), ("infinity_token", float("inf"))):
            out.append(case(kind, "syntax", None, json.dumps({**example, name: token}).encode()))
    if spec.type == "categorical":
        out.append(case("unknown_category", "schema", {**example, name: _unknown(spec)}))
    return out


def _unknown(spec: FieldSpec) -> str:
    known = set(spec.categories or ())
    candidate = "servebench-unknown"
    while candidate in known:
        candidate += "-x"
    return candidate


def bad_cases(schema: ModelSchema, churn: bool = False) -> tuple[BadCase, ...]:
    """The bad cases of a model: churn's hand-written BAD, or the generic and per-field ones."""
    if churn:
        return BAD
    example = dict(schema.example)
    first = schema.fields[0].name
    cases = _generic(example, first)
    for spec in schema.fields:
        cases += _field_cases(spec, example)
    return tuple(cases)
