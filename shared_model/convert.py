"""From validated requests to the estimator's input: one conversion per batch, column by column.

Rows (pydantic models or mappings) are read once, field by field, into one list per field; each
list becomes one typed numpy array; the arrays become the estimator's input in whole-array
operations:
- matrix: one float64 matrix, fields in declared order, booleans as 0/1, each categorical one-hot
  in the order of its categories (a missing value: NaN, or no category set);
- frame: one pandas DataFrame built once per batch from the arrays, with the dtypes the estimator
  saw at fit time; missing values as NaN, as pandas reads them from a file.
No per-row DataFrame, no per-row model call. The column protocols (Open Inference, MLflow) hand
over arrays directly (servers/columns.py validates them first) and share `from_arrays`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np

from shared_model.model_schema import FieldSpec, ModelSchema

MISSING = float("nan")


def _value(item: Any) -> Any:
    """An enum member's value, anything else as it is."""
    return item.value if hasattr(item, "value") else item


def frame_dtype(spec: FieldSpec) -> str:
    """The pandas dtype a field's column gets in a frame input."""
    if spec.dtype is not None:
        return spec.dtype
    if spec.type == "categorical" or (spec.type == "boolean" and spec.nullable):
        return "object"
    if spec.type == "integer":
        return "float64" if spec.nullable else "int64"
    return "float64" if spec.type == "number" else "bool"


def matrix_width(schema: ModelSchema) -> int:
    return sum(len(f.categories or ()) if f.type == "categorical" else 1 for f in schema.fields)


def matrix_columns(schema: ModelSchema) -> list[str]:
    """The matrix's column names: a field, or field=category for a one-hot column."""
    names: list[str] = []
    for spec in schema.fields:
        if spec.type == "categorical":
            names += [f"{spec.name}={c}" for c in spec.categories or ()]
        else:
            names.append(spec.name)
    return names


class Converter:
    """One declaration's conversion from requests to the estimator's input."""

    def __init__(self, schema: ModelSchema) -> None:
        self.schema = schema
        self.fields = list(schema.fields)
        self.names = [f.name for f in self.fields]
        self.width = matrix_width(schema)
        # category -> index, per categorical field (the one-hot position, matrix input)
        self._index = {f.name: {c: i for i, c in enumerate(f.categories or ())}
                       for f in self.fields if f.type == "categorical"}
        # A matrix of fields that are never null (servebench's churn models) is built straight
        # from the rows, as the request path needs it: one C-level read of a row's numbers, one
        # dictionary look-up per category, one numpy conversion for the whole batch.
        self._direct = schema.input == "matrix" and not any(f.nullable for f in self.fields)
        self._numeric_names: list[str] = []
        numeric_columns: list[int] = []
        self._categorical: list[tuple[str, int, dict[str, int]]] = []  # name, first column, index
        column = 0
        for spec in self.fields:
            if spec.type == "categorical":
                self._categorical.append((spec.name, column, self._index[spec.name]))
                column += len(spec.categories or ())
            else:
                self._numeric_names.append(spec.name)
                numeric_columns.append(column)
                column += 1
        # Readers built once: by key for mappings, by attribute for validated models.
        self._readers = {
            mapping: (self._reader(self._numeric_names, mapping) if self._numeric_names else None,
                      [(self._reader([name], mapping), offset, index)
                       for name, offset, index in self._categorical])
            for mapping in (True, False)}
        contiguous = numeric_columns == list(range(len(numeric_columns)))
        self._numeric_at: slice | list[int] = (slice(0, len(numeric_columns)) if contiguous
                                               else numeric_columns)

    def columns(self, rows: Iterable[Any]) -> dict[str, list[Any]]:
        """One pass over the rows: one list of values per field."""
        lists: dict[str, list[Any]] = {name: [] for name in self.names}
        appends = [(lists[name].append, name) for name in self.names]
        for row in rows:
            get = row.__getitem__ if isinstance(row, Mapping) else row.__getattribute__
            for append, name in appends:
                append(get(name))
        return lists

    def arrays(self, lists: Mapping[str, list[Any]]) -> dict[str, np.ndarray]:
        """Typed arrays from per-field lists of validated values (None for a missing value)."""
        out: dict[str, np.ndarray] = {}
        for spec in self.fields:
            values = lists[spec.name]
            if spec.type == "categorical":
                array = np.empty(len(values), dtype=object)
                array[:] = [MISSING if v is None else _value(v) for v in values] if spec.nullable else [
                    _value(v) for v in values]
                out[spec.name] = array
            elif spec.type == "boolean" and spec.nullable:
                array = np.empty(len(values), dtype=object)
                array[:] = [MISSING if v is None else v for v in values]
                out[spec.name] = array
            elif spec.type == "boolean":
                out[spec.name] = np.asarray(values, dtype=bool)
            elif spec.type == "integer" and not spec.nullable:
                out[spec.name] = np.asarray(values, dtype=np.int64)
            else:  # numbers, and integers that may be missing: float64, None becomes NaN
                out[spec.name] = np.asarray(values, dtype=np.float64)
        return out

    def from_arrays(self, arrays: Mapping[str, np.ndarray], n: int) -> Any:
        """The estimator's input from validated arrays (as `arrays` types them)."""
        if self.schema.input == "frame":
            import pandas as pd

            return pd.DataFrame({f.name: arrays[f.name].astype(frame_dtype(f), copy=False)
                                 for f in self.fields}, index=pd.RangeIndex(n))
        matrix = np.zeros((n, self.width), dtype=np.float64)
        column = 0
        rows = np.arange(n)
        for spec in self.fields:
            values = arrays[spec.name]
            if spec.type != "categorical":
                matrix[:, column] = values.astype(np.float64) if values.dtype != object else [
                    MISSING if v is None or v != v else float(v) for v in values]
                column += 1
                continue
            index = self._index[spec.name]
            positions = np.fromiter((index.get(v, -1) for v in values.tolist()), dtype=np.int64, count=n)
            present = positions >= 0
            matrix[rows[present], column + positions[present]] = 1.0
            column += len(index)
        return matrix

    @staticmethod
    def _reader(names: list[str], mapping: bool) -> Callable[[Any], Any]:
        """One C-level read of `names` from a row (a tuple of them), by key or by attribute."""
        first, *rest = names
        reader: Callable[[Any], Any] = itemgetter(first, *rest) if mapping else attrgetter(first, *rest)
        return reader

    def direct_matrix(self, rows: Iterable[Any]) -> np.ndarray:
        """The float64 matrix of rows whose fields are never null, without per-field arrays."""
        items: Sequence[Any] = rows if isinstance(rows, list | tuple) else list(rows)
        n = len(items)
        matrix = np.zeros((n, self.width), dtype=np.float64)
        if n == 0:
            return matrix
        numbers, categories = self._readers[isinstance(items[0], Mapping)]
        if numbers is not None:
            values = [numbers(row) for row in items]
            if len(self._numeric_names) == 1:  # one name: the reader answers the value itself
                values = [(value,) for value in values]
            matrix[:, self._numeric_at] = np.asarray(values, dtype=np.float64)
        if categories:
            # One fancy assignment for every one-hot column. Validated rows hold declared
            # categories only (a KeyError otherwise); StrEnum members hash and compare as their
            # values, so a member finds its index.
            at_row = [i for i in range(n) for _ in categories]
            at_column = [offset + index[value(row)] for row in items for value, offset, index in categories]
            matrix[at_row, at_column] = 1.0
        return matrix

    def rows_input(self, rows: Iterable[Any]) -> Any:
        """Validated rows (pydantic models or mappings) as the estimator's input."""
        if self._direct:
            return self.direct_matrix(rows)
        lists = self.columns(rows)
        n = len(lists[self.names[0]]) if self.names else 0
        return self.from_arrays(self.arrays(lists), n)

    def object_matrix(self, rows: Iterable[Any]) -> np.ndarray:
        """Validated rows as one (n, fields) object array of plain values, for frameworks that
        carry arrays between processes and batch them there (see `from_object_matrix`)."""
        lists = self.columns(rows)
        n = len(lists[self.names[0]])
        out = np.empty((n, len(self.names)), dtype=object)
        for i, name in enumerate(self.names):
            out[:, i] = [_value(v) for v in lists[name]]
        return out

    def from_object_matrix(self, matrix: np.ndarray) -> Any:
        """The estimator's input from `object_matrix` arrays stacked into one batch."""
        lists = {name: matrix[:, i].tolist() for i, name in enumerate(self.names)}
        return self.from_arrays(self.arrays(lists), len(matrix))
