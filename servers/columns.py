"""A model's rows as columns, for frameworks whose protocols carry tensors or tables.

Triton and KServe (Open Inference Protocol) receive one tensor per field and MLflow one table
column per field, so the server gets columns, not row objects. `input_from_columns` checks them
against the model's declaration (the same rules the contract's request model enforces on rows:
types, null where declared, finite numbers, bounds, categories, cross-field rules, no missing or
unknown field) and builds the estimator's input in whole-array operations, one pass per column
for the batch: the same input `shared_model.convert.Converter` builds from rows.

A missing value (a nullable field) may arrive as null (JSON, an object column), as NaN (a float
tensor: the Open Inference Protocol has no null) or as "" (a text tensor).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from shared_model.contract_models import MAX_BATCH_ITEMS
from shared_model.convert import MISSING, Converter
from shared_model.model_schema import FieldSpec, ModelSchema

MAX_DETAILS = 20  # field errors reported per request: enough to act on, never the whole batch


class InvalidColumns(ValueError):
    """Columns that break the model's rules; `details` as the contract's field errors."""

    def __init__(self, details: list[dict[str, Any]]) -> None:
        self.details = details[:MAX_DETAILS]
        first = self.details[0]
        where = ".".join(str(part) for part in first["loc"])
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        super().__init__(f"{where}: {first['msg']}{more}")


def _error(field: str, msg: str, kind: str, rows: np.ndarray | None = None) -> list[dict[str, Any]]:
    if rows is None:
        return [{"loc": [field], "msg": msg, "type": kind}]
    return [{"loc": [int(row), field], "msg": msg, "type": kind} for row in rows[:MAX_DETAILS]]


def _flat(name: str, values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidColumns(_error(name, f"expected shape [n] or [n, 1], got {list(array.shape)}", "shape"))
    return array


def _text(name: str, array: np.ndarray, nullable: bool) -> tuple[np.ndarray, np.ndarray]:
    """A str/bytes column as an object array of str, and where values are missing."""
    if array.dtype.kind == "S":
        try:
            array = np.char.decode(array, "utf-8")
        except UnicodeDecodeError:
            raise InvalidColumns(_error(name, "not valid UTF-8", "string_unicode")) from None
    if array.dtype.kind == "U":
        values = array.astype(object)
    elif array.dtype.kind == "O":
        items = array.tolist()
        if any(isinstance(v, bytes) for v in items):
            try:
                items = [v.decode("utf-8") if isinstance(v, bytes) else v for v in items]
            except UnicodeDecodeError:
                raise InvalidColumns(_error(name, "not valid UTF-8", "string_unicode")) from None
        kinds = {type(v) for v in items if v is not None and not (isinstance(v, float) and v != v)}
        if not kinds <= {str}:
            raise InvalidColumns(_error(name, "Input should be a valid string", "string_type"))
        values = np.empty(len(items), dtype=object)
        values[:] = items
    elif nullable and array.dtype.kind == "f" and np.isnan(array).all():
        values = np.full(len(array), None, dtype=object)
    else:
        raise InvalidColumns(_error(name, "Input should be a valid string", "string_type"))
    missing = np.fromiter((v is None or v == "" or (isinstance(v, float) and v != v)
                           for v in values.tolist()), dtype=bool, count=len(values))
    return values, missing


def _numeric(spec: FieldSpec, array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A number/integer/boolean column as float64 (NaN where null), and where it was null."""
    name, kind = spec.name, array.dtype.kind
    wrong = {"integer": ("Input should be a valid integer", "int_type"),
             "number": ("Input should be a valid number", "float_type"),
             "boolean": ("Input should be a valid boolean", "bool_type")}[spec.type]
    if kind == "O":  # JSON null in a column (a table, KServe's decoded data): only where nullable
        items = array.tolist()
        allowed = {"integer": (int,), "number": (int, float), "boolean": (bool,)}[spec.type]
        ok = all(v is None or (isinstance(v, allowed) and (spec.type == "boolean" or not isinstance(v, bool)))
                 for v in items)
        if not ok:
            raise InvalidColumns(_error(name, *wrong))
        null = np.fromiter((v is None for v in items), dtype=bool, count=len(items))
        values = np.asarray([MISSING if v is None else float(v) for v in items], dtype=np.float64)
        return values, null
    expected = {"integer": "iu", "number": "iuf", "boolean": "b"}[spec.type]
    if spec.nullable and kind == "f" and spec.type in ("integer", "boolean"):
        values = array.astype(np.float64)
        null = np.isnan(values)
        present = values[~null]
        if spec.type == "integer" and not (present == np.round(present)).all():
            raise InvalidColumns(_error(name, *wrong))
        if spec.type == "boolean" and not np.isin(present, (0.0, 1.0)).all():
            raise InvalidColumns(_error(name, *wrong))
        return values, null
    if kind not in expected:
        raise InvalidColumns(_error(name, *wrong))
    values = array.astype(np.float64)
    null = np.isnan(values) if spec.nullable and kind == "f" else np.zeros(len(values), dtype=bool)
    return values, null


def _checked(spec: FieldSpec, values: np.ndarray, null: np.ndarray) -> list[dict[str, Any]]:
    """Nulls where not declared, non-finite numbers, values out of bounds."""
    errors: list[dict[str, Any]] = []
    name = spec.name
    if null.any() and not spec.nullable:
        errors += _error(name, "Input should not be null", "null", np.flatnonzero(null))
    finite = np.isfinite(values) | null
    if not finite.all():
        errors += _error(name, "Input should be a finite number", "finite_number", np.flatnonzero(~finite))
    present = finite & ~null
    low, high = spec.minimum, spec.maximum
    outside = present & (((values < low) if low is not None else False) | ((values > high) if high is not None
                                                                             else False))
    if np.any(outside):
        bounds = " and ".join(part for part in (f"at least {low:g}" if low is not None else "",
                                                 f"at most {high:g}" if high is not None else "") if part)
        errors += _error(name, f"Input should be {bounds}", "range", np.flatnonzero(outside))
    return errors


def _typed_for_converter(spec: FieldSpec, values: np.ndarray, null: np.ndarray) -> np.ndarray:
    """The validated column as `Converter.arrays` types it."""
    if spec.type == "integer" and not spec.nullable:
        return values.astype(np.int64)
    if spec.type == "boolean":
        if not spec.nullable:
            return values.astype(bool)
        out = np.empty(len(values), dtype=object)
        out[:] = [MISSING if missing else bool(v) for v, missing in zip(values.tolist(), null.tolist(),
                                                                         strict=True)]
        return out
    return values


def input_from_columns(schema: ModelSchema, columns: Mapping[str, Any],
                       max_rows: int | None = MAX_BATCH_ITEMS, converter: Converter | None = None) -> Any:
    """Validate one request's (or one batch's) columns and build the estimator's input.

    Raises InvalidColumns with every rule broken (first MAX_DETAILS), as the contract's
    validation does for rows.
    """
    names = schema.field_names
    missing = [name for name in names if name not in columns]
    unknown = [name for name in columns if name not in names]
    errors = [e for name in missing for e in _error(name, "Field required", "missing")]
    errors += [e for name in unknown
               for e in _error(name, "Extra inputs are not permitted", "extra_forbidden")]
    if errors:
        raise InvalidColumns(errors)
    arrays = {name: _flat(name, columns[name]) for name in names}
    lengths = {len(array) for array in arrays.values()}
    if len(lengths) != 1:
        raise InvalidColumns(_error("inputs", f"fields have different lengths {sorted(lengths)}", "shape"))
    (n,) = lengths
    if n == 0 or (max_rows is not None and n > max_rows):
        raise InvalidColumns(_error("inputs", f"between 1 and {max_rows} rows per request, got {n}",
                                    "too_long" if n else "too_short"))
    typed: dict[str, np.ndarray] = {}
    numbers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for spec in schema.fields:
        try:
            if spec.type == "categorical":
                values, null = _text(spec.name, arrays[spec.name], spec.nullable)
                if null.any() and not spec.nullable:
                    errors += _error(spec.name, "Input should not be null", "null", np.flatnonzero(null))
                known = np.isin(values, np.asarray(spec.categories, dtype=object)) | null
                if not known.all():
                    errors += _error(spec.name, f"Input should be one of {', '.join(spec.categories or ())}",
                                     "enum", np.flatnonzero(~known))
                values = values.copy()
                values[null] = MISSING
                typed[spec.name] = values
            else:
                values, null = _numeric(spec, arrays[spec.name])
                errors += _checked(spec, values, null)
                numbers[spec.name] = (values, null)
                typed[spec.name] = _typed_for_converter(spec, values, null)
        except InvalidColumns as error:
            errors += error.details
    if errors:
        raise InvalidColumns(errors)
    for rule in schema.parsed_rules:
        (left, left_null), (right, right_null) = numbers[rule.left], numbers[rule.right]
        holds = {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right}[rule.op]
        broken = ~holds & ~left_null & ~right_null
        if broken.any():
            errors += _error(rule.left, rule.message, "value_error", np.flatnonzero(broken))
    if errors:
        raise InvalidColumns(errors)
    return (converter or Converter(schema)).from_arrays(typed, n)
