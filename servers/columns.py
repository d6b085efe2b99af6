"""The contract's rows as columns, for frameworks whose protocols carry tensors or tables.

Triton and KServe (Open Inference Protocol) receive one tensor per field and MLflow one table
column per field, so the server gets columns, not row objects. `matrix_from_columns` checks
them against the contract's rules (the bounds are read from `PredictRequest`, not repeated) and
builds the model matrix in whole-array operations, one pass per column for the batch: the
same matrix `shared_model.features.to_matrix` builds from rows. `rows_to_columns` is the
client's side, used once, when a request is planned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import annotated_types
import numpy as np

from shared_model.features import COLUMNS, CONTRACT_TYPES, FEATURES, NUMERIC, PAYMENT_METHODS
from shared_model.schemas import MAX_BATCH_ITEMS, PredictRequest

Kind = Literal["int", "float", "bool", "str"]

# The value kind of each field, as the contract's schema types it.
KINDS: dict[str, Kind] = {
    "tenure_months": "int",
    "monthly_charges": "float",
    "total_charges": "float",
    "num_products": "int",
    "has_phone_service": "bool",
    "has_internet": "bool",
    "contract_type": "str",
    "payment_method": "str",
}
CATEGORIES: dict[str, tuple[str, ...]] = {
    "contract_type": CONTRACT_TYPES,
    "payment_method": PAYMENT_METHODS,
}
MAX_DETAILS = 20  # field errors reported per request: enough to act on, never the whole batch


def _bounds() -> dict[str, tuple[float, float]]:
    found: dict[str, tuple[float, float]] = {}
    for name in NUMERIC:
        low = high = None
        for rule in PredictRequest.model_fields[name].metadata:
            if isinstance(rule, annotated_types.Ge):
                low = rule.ge
            elif isinstance(rule, annotated_types.Le):
                high = rule.le
        if low is not None and high is not None:
            found[name] = (float(low), float(high))  # type: ignore[arg-type]
    return found


BOUNDS = _bounds()
assert set(BOUNDS) == {n for n in NUMERIC if KINDS[n] != "bool"}, "schema bounds changed"


class InvalidColumns(ValueError):
    """Columns that break the contract's rules; `details` as the contract's field errors."""

    def __init__(self, details: list[dict[str, Any]]) -> None:
        self.details = details[:MAX_DETAILS]
        first = self.details[0]
        where = ".".join(str(part) for part in first["loc"])
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        super().__init__(f"{where}: {first['msg']}{more}")


def rows_to_columns(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Contract rows as one list per field, in FEATURES order (client side, plan time)."""
    rows = list(rows)
    return {name: [row[name] for row in rows] for name in FEATURES}


def _error(field: str, msg: str, kind: str, rows: np.ndarray | None = None) -> list[dict[str, Any]]:
    if rows is None:
        return [{"loc": [field], "msg": msg, "type": kind}]
    return [{"loc": [int(row), field], "msg": msg, "type": kind} for row in rows[:MAX_DETAILS]]


def _flat(name: str, values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidColumns(_error(name, f"expected shape [n] or [n, 1], got {list(array.shape)}",
                                    "shape"))
    return array


def _text(name: str, array: np.ndarray) -> np.ndarray:
    """A str/bytes column as a numpy unicode array (BYTES tensors arrive as bytes objects)."""
    if array.dtype.kind == "U":
        return array
    if array.dtype.kind == "S":
        try:
            return np.char.decode(array, "utf-8")
        except UnicodeDecodeError:
            raise InvalidColumns(_error(name, "not valid UTF-8", "string_unicode")) from None
    if array.dtype.kind == "O":
        types = set(map(type, array.tolist()))
        if types <= {str}:
            return array.astype(np.str_)
        if types <= {bytes}:
            return _text(name, array.astype(np.bytes_))
    raise InvalidColumns(_error(name, "Input should be a valid string", "string_type"))


def _typed(name: str, array: np.ndarray) -> list[dict[str, Any]]:
    kind = KINDS[name]
    dtype = array.dtype
    if kind == "int" and (dtype.kind not in "iu"):
        return _error(name, "Input should be a valid integer", "int_type")
    if kind == "float" and dtype.kind not in "iuf":
        return _error(name, "Input should be a valid number", "float_type")
    if kind == "bool" and dtype.kind != "b":
        return _error(name, "Input should be a valid boolean", "bool_type")
    return []


def matrix_from_columns(columns: Mapping[str, Any], max_rows: int | None = MAX_BATCH_ITEMS) -> np.ndarray:
    """Validate one request's (or one batch's) columns and build the model matrix.

    Raises InvalidColumns with every rule broken (first MAX_DETAILS), as the contract's
    validation does for rows: missing or unknown fields, wrong types, lengths that differ,
    NaN or infinities, values out of bounds, unknown categories, total below monthly.
    """
    missing = [name for name in FEATURES if name not in columns]
    unknown = [name for name in columns if name not in KINDS]
    errors = [e for name in missing for e in _error(name, "Field required", "missing")]
    errors += [e for name in unknown
               for e in _error(name, "Extra inputs are not permitted", "extra_forbidden")]
    if errors:
        raise InvalidColumns(errors)
    arrays = {name: _flat(name, columns[name]) for name in FEATURES}
    lengths = {len(array) for array in arrays.values()}
    if len(lengths) != 1:
        raise InvalidColumns(_error("inputs", f"fields have different lengths {sorted(lengths)}", "shape"))
    (n,) = lengths
    if n == 0 or (max_rows is not None and n > max_rows):
        raise InvalidColumns(_error("inputs", f"between 1 and {max_rows} rows per request, got {n}",
                                    "too_long" if n else "too_short"))
    for name, array in arrays.items():
        errors += _typed(name, array)
    if errors:
        raise InvalidColumns(errors)

    matrix = np.zeros((n, len(COLUMNS)), dtype=np.float64)
    for i, name in enumerate(NUMERIC):
        values = arrays[name].astype(np.float64)
        if name in BOUNDS:
            low, high = BOUNDS[name]
            finite = np.isfinite(values)
            if not finite.all():
                errors += _error(name, "Input should be a finite number", "finite_number",
                                 np.flatnonzero(~finite))
            outside = finite & ((values < low) | (values > high))
            if outside.any():
                errors += _error(name, f"Input should be between {low:g} and {high:g}",
                                 "range", np.flatnonzero(outside))
        matrix[:, i] = values
    below = matrix[:, NUMERIC.index("total_charges")] < matrix[:, NUMERIC.index("monthly_charges")]
    if below.any():
        errors += _error("total_charges", "total_charges must be greater than or equal to monthly_charges",
                         "value_error", np.flatnonzero(below))
    offset = len(NUMERIC)
    for name, categories in CATEGORIES.items():
        text = _text(name, arrays[name])
        one_hot = text[:, None] == np.asarray(categories)[None, :]
        unknown_rows = np.flatnonzero(~one_hot.any(axis=1))
        if unknown_rows.size:
            errors += _error(name, f"Input should be one of {', '.join(categories)}", "enum", unknown_rows)
        matrix[:, offset:offset + len(categories)] = one_hot
        offset += len(categories)
    if errors:
        raise InvalidColumns(errors)
    return matrix
