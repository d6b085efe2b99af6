from __future__ import annotations

import numpy as np

from shared_model.cases import GOLDEN_REQUESTS
from shared_model.features import COLUMNS, to_matrix
from shared_model.schemas import PredictRequest


def test_vectorised_conversion_equals_row_by_row() -> None:
    rows = [PredictRequest.model_validate(r) for r in GOLDEN_REQUESTS]
    whole = to_matrix(rows)
    one_by_one = np.vstack([to_matrix([row]) for row in rows])
    np.testing.assert_array_equal(whole, one_by_one)
    assert whole.shape == (len(rows), len(COLUMNS))


def test_models_and_plain_mappings_convert_alike() -> None:
    rows = [PredictRequest.model_validate(r) for r in GOLDEN_REQUESTS]
    np.testing.assert_array_equal(to_matrix(rows), to_matrix(GOLDEN_REQUESTS))


def test_one_hot_columns_hold_exactly_one_category() -> None:
    matrix = to_matrix(GOLDEN_REQUESTS)
    contract = [i for i, c in enumerate(COLUMNS) if c.startswith("contract_type=")]
    payment = [i for i, c in enumerate(COLUMNS) if c.startswith("payment_method=")]
    assert (matrix[:, contract].sum(axis=1) == 1).all()
    assert (matrix[:, payment].sum(axis=1) == 1).all()
    first = GOLDEN_REQUESTS[0]
    assert matrix[0, COLUMNS.index(f"contract_type={first['contract_type']}")] == 1.0
    assert matrix[0, COLUMNS.index("tenure_months")] == first["tenure_months"]


def test_empty_input_gives_an_empty_matrix() -> None:
    assert to_matrix([]).shape == (0, len(COLUMNS))
