from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared_model.cases import SEED_EXAMPLE
from shared_model.schemas import MAX_BATCH_ITEMS, BatchPredictRequest, PredictRequest


def test_the_seed_example_is_valid() -> None:
    request = PredictRequest.model_validate_json(json.dumps(SEED_EXAMPLE))
    assert request.contract_type.value == "month-to-month"


@pytest.mark.parametrize(
    "change",
    [
        {"tenure_months": -1},
        {"tenure_months": "24"},
        {"has_internet": 1},
        {"contract_type": "weekly"},
        {"total_charges": 1.0},  # below monthly_charges
        {"extra": True},
    ],
)
def test_invalid_values_are_rejected(change: dict) -> None:
    with pytest.raises(ValidationError):
        PredictRequest.model_validate_json(json.dumps({**SEED_EXAMPLE, **change}))


def test_nan_and_infinity_are_rejected() -> None:
    for token in ("NaN", "Infinity"):
        body = json.dumps(SEED_EXAMPLE).replace("65.5", token)
        with pytest.raises(ValidationError):
            PredictRequest.model_validate_json(body)


def test_integers_are_accepted_for_floats() -> None:
    assert PredictRequest.model_validate_json(json.dumps({**SEED_EXAMPLE, "monthly_charges": 65}))


def test_batch_size_bounds() -> None:
    BatchPredictRequest.model_validate({"items": [SEED_EXAMPLE] * MAX_BATCH_ITEMS})
    for size in (0, MAX_BATCH_ITEMS + 1):
        with pytest.raises(ValidationError):
            BatchPredictRequest.model_validate({"items": [SEED_EXAMPLE] * size})


def test_decoded_dicts_and_raw_json_validate_alike() -> None:
    # Some frameworks hand the app a decoded dict, others the raw bytes.
    assert PredictRequest.model_validate(SEED_EXAMPLE) == PredictRequest.model_validate_json(
        json.dumps(SEED_EXAMPLE)
    )
    with pytest.raises(ValidationError):
        PredictRequest.model_validate({**SEED_EXAMPLE, "tenure_months": "24"})
