"""The contract's pydantic models for one declared model, built at start-up from its schema.

The request: one model per declaration, `extra="forbid"`, strict types, finite numbers, the
declared bounds, categories as enums, null only where declared, the cross-field rules; the batch
body is `{"items": [...]}` (1 to MAX_BATCH_ITEMS). The answer: `prediction` (a class label, or
the number for a regressor), `probability` as {label: p} for classifiers, `model_version`.
`/docs` and the OpenAPI document show these models, so they show the model's own fields.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from shared_model.model_schema import FieldSpec, ModelSchema, Rule

MAX_BATCH_ITEMS = 100

STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
_PY_TYPES: dict[str, type] = {"integer": int, "number": float, "boolean": bool}


def _camel(name: str) -> str:
    parts = [part for part in re.split(r"[^0-9A-Za-z]+", name) if part]
    return "".join(part[:1].upper() + part[1:] for part in parts) or "Field"


def _member(value: str, taken: set[str]) -> str:
    name = re.sub(r"\W+", "_", value).strip("_").upper() or "VALUE"
    if name[0].isdigit() or name in taken:
        name = value
    taken.add(name)
    return name


def category_enum(spec: FieldSpec) -> type[StrEnum]:
    taken: set[str] = set()
    members = {_member(value, taken): value for value in spec.categories or ()}
    return StrEnum(_camel(spec.name), members)  # type: ignore[return-value]


def _annotation(spec: FieldSpec, enums: dict[str, type[StrEnum]]) -> Any:
    if spec.type == "categorical":
        enum = enums[spec.name] = category_enum(spec)
        # Enum values arrive as strings whether validated from JSON bytes or from decoded dicts.
        inner: Any = Annotated[enum, Field(strict=False)]
    else:
        bounds: dict[str, Any] = {}
        cast = int if spec.type == "integer" else float
        if spec.minimum is not None:
            bounds["ge"] = cast(spec.minimum)
        if spec.maximum is not None:
            bounds["le"] = cast(spec.maximum)
        inner = Annotated[_PY_TYPES[spec.type], Field(**bounds)] if bounds else _PY_TYPES[spec.type]
    if spec.nullable:
        inner = inner | None
    return Annotated[inner, Field(description=spec.description)] if spec.description else inner


OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


def _rules_validator(rules: list[Rule]) -> Any:
    # Resolved once: the check runs on every request.
    checks = [(rule.left, rule.right, OPERATORS[rule.op], rule.message) for rule in rules]

    def check(self: BaseModel) -> BaseModel:
        for left_name, right_name, holds, message in checks:
            left, right = getattr(self, left_name), getattr(self, right_name)
            if left is not None and right is not None and not holds(left, right):
                raise ValueError(message)
        return self

    return model_validator(mode="after")(check)


@dataclass(frozen=True)
class ContractModels:
    """Everything a stack validates requests with and documents its answers by."""

    schema: ModelSchema
    single: type[BaseModel]  # PredictRequest
    batch: type[BaseModel]  # BatchPredictRequest
    response: type[BaseModel]  # PredictResponse
    batch_item: type[BaseModel]
    batch_response: type[BaseModel]
    probability: type[BaseModel] | None
    enums: dict[str, type[StrEnum]]
    example: dict[str, Any]


def _build(schema: ModelSchema) -> ContractModels:
    enums: dict[str, type[StrEnum]] = {}
    fields: dict[str, Any] = {spec.name: (_annotation(spec, enums), ...) for spec in schema.fields}
    validators = {"_rules": _rules_validator(schema.parsed_rules)} if schema.rules else {}
    single = create_model(
        "PredictRequest",
        __config__=ConfigDict(**STRICT, json_schema_extra={"examples": [schema.example]}),
        __doc__=f"One input of model {schema.name}. Unknown fields, wrong types, NaN and infinities "
                "are rejected.",
        __validators__=validators,
        **fields,
    )
    batch = create_model(
        "BatchPredictRequest", __config__=STRICT,
        items=(Annotated[list[single],
                         Field(min_length=1, max_length=MAX_BATCH_ITEMS)], ...),
    )
    probability: type[BaseModel] | None = None
    answer: dict[str, Any]
    if schema.kind == "classifier":
        assert schema.classes is not None
        # Keys of any text: each a field under a plain name, read and written by its label.
        probability = create_model(  # type: ignore[call-overload]
            "Probability", __config__=ConfigDict(populate_by_name=True, serialize_by_alias=True),
            **{f"p{i}": (float, Field(alias=label)) for i, label in enumerate(schema.labels)},
        )
        answer = {"prediction": (Literal[tuple(schema.classes)], ...), "probability": (probability, ...)}
    else:
        answer = {"prediction": (float, ...)}
    response = create_model("PredictResponse", **answer, model_version=(str, ...))
    item = create_model("BatchItem", **answer)
    batch_response = create_model("BatchPredictResponse",
                                  results=(list[item], ...),
                                  batch_size=(int, ...), model_version=(str, ...))
    single.model_validate(schema.example)  # the declaration's own example must pass its own rules
    return ContractModels(schema, single, batch, response, item, batch_response, probability, enums,
                          dict(schema.example))


_BUILT: dict[str, ContractModels] = {}


def contract_models(schema: ModelSchema) -> ContractModels:
    """The models of this declaration (built once per declaration and process)."""
    key = schema.model_dump_json()
    if key not in _BUILT:
        _BUILT[key] = _build(schema)
    return _BUILT[key]
