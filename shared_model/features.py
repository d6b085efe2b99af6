"""Feature declaration and the one vectorised conversion from requests to a model matrix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

CONTRACT_TYPES: tuple[str, ...] = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS: tuple[str, ...] = ("electronic", "mailed", "bank", "credit")

# The eight request fields, in the order the seed article lists them.
FEATURES: tuple[str, ...] = (
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "num_products",
    "has_phone_service",
    "has_internet",
    "contract_type",
    "payment_method",
)
NUMERIC: tuple[str, ...] = FEATURES[:6]

# Model columns: the six numeric/boolean fields, then one-hot categories.
COLUMNS: tuple[str, ...] = (
    *NUMERIC,
    *(f"contract_type={c}" for c in CONTRACT_TYPES),
    *(f"payment_method={p}" for p in PAYMENT_METHODS),
)

_CONTRACT_INDEX = {c: i for i, c in enumerate(CONTRACT_TYPES)}
_PAYMENT_INDEX = {p: i for i, p in enumerate(PAYMENT_METHODS)}
_N_NUMERIC = len(NUMERIC)
_N_CONTRACT = len(CONTRACT_TYPES)


def _value(category: Any) -> str:
    return str(category.value if hasattr(category, "value") else category)


def to_matrix(rows: Iterable[Any]) -> np.ndarray:
    """Convert validated rows (pydantic models or mappings) into one float64 matrix.

    One pass of attribute reads, then numpy does the rest: no per-row DataFrame.
    """
    numeric: list[tuple[float, ...]] = []
    contract: list[int] = []
    payment: list[int] = []
    for row in rows:
        get = row.__getitem__ if isinstance(row, Mapping) else row.__getattribute__
        numeric.append(tuple(get(name) for name in NUMERIC))
        contract.append(_CONTRACT_INDEX[_value(get("contract_type"))])
        payment.append(_PAYMENT_INDEX[_value(get("payment_method"))])
    n = len(numeric)
    matrix = np.zeros((n, len(COLUMNS)), dtype=np.float64)
    if n == 0:
        return matrix
    matrix[:, :_N_NUMERIC] = np.asarray(numeric, dtype=np.float64)
    index = np.arange(n)
    matrix[index, _N_NUMERIC + np.asarray(contract)] = 1.0
    matrix[index, _N_NUMERIC + _N_CONTRACT + np.asarray(payment)] = 1.0
    return matrix
