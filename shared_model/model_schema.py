"""A model's declaration (`schema.yaml`): what it is, what it takes, and how requests are checked.

Every stack builds its request schema, its bad cases and its conversion to the estimator's input
from this one declaration, for servebench's own churn models (shared_model/churn.yaml) and for a
user's model (models/<name>/schema.yaml, written by `servebench model add`) alike. The file is
human-editable; `load_schema` validates it and reports each mistake on one line.

Only the standard library, pydantic and PyYAML here: load generators read the declaration too,
and must not pull in the model's libraries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

FieldType = Literal["integer", "number", "boolean", "categorical"]
Kind = Literal["classifier", "regressor"]
ClassLabel = bool | int | str  # smart union: true stays a bool, 1 an int
# A cross-field rule: "<field> <op> <field>", both numeric fields.
_RULE = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*(>=|<=|>|<)\s*([A-Za-z_][\w.-]*)\s*$")
RULE_WORDS = {">=": "greater than or equal to", "<=": "less than or equal to", ">": "greater than",
              "<": "less than"}
MAX_NAME = 64  # a model's name: a directory name, a metric-safe word
_TYPE_TAGS = {"int", "str", "bool", "float"}


class SchemaError(ValueError):
    """A declaration that does not hold: one line per mistake."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Artifact(_Strict):
    file: str  # relative to the model's directory (or an absolute path)
    format: Literal["joblib", "pickle", "skops"]
    # skops only: the types the user accepted beyond those skops trusts by default.
    trusted: list[str] = Field(default_factory=list)


class FieldSpec(_Strict):
    """One request field and the rules its values must follow."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    type: FieldType
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] | None = None
    nullable: bool = False
    description: str | None = None
    # Frame input only: the pandas dtype of the column as the estimator saw it at fit time.
    dtype: Literal["int64", "float64", "bool", "object", "boolean"] | None = None

    @field_validator("minimum", "maximum")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("a bound must be a finite number")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        numeric = self.type in ("integer", "number")
        if not numeric and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"a {self.type} field has no minimum or maximum")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum:g} is above maximum {self.maximum:g}")
        if self.type == "integer":
            for bound in (self.minimum, self.maximum):
                if bound is not None and bound != int(bound):
                    raise ValueError(f"an integer field's bounds are integers, not {bound:g}")
        if self.type == "categorical":
            if not self.categories:
                raise ValueError("a categorical field needs at least one category")
            if len(set(self.categories)) != len(self.categories):
                raise ValueError("categories are listed twice")
            if any(not category for category in self.categories):
                raise ValueError("a category cannot be the empty string")
        elif self.categories is not None:
            raise ValueError(f"a {self.type} field has no categories")
        return self

    @property
    def json_type(self) -> str:
        return {"integer": "int", "number": "float", "boolean": "bool", "categorical": "str"}[self.type]


class Rule(_Strict):
    left: str
    op: Literal[">=", "<=", ">", "<"]
    right: str

    @property
    def message(self) -> str:
        return f"{self.left} must be {RULE_WORDS[self.op]} {self.right}"

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


def parse_rule(text: str) -> Rule:
    found = _RULE.match(text)
    if found is None:
        raise ValueError(f"a rule reads '<field> >= <field>' (or <=, >, <), not {text!r}")
    left, op, right = found.groups()
    return Rule(left=left, op=op, right=right)


class ModelSchema(_Strict):
    """The declaration of one served model."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=MAX_NAME)]
    kind: Kind
    estimator: str  # the estimator's class, for people
    artifact: Artifact
    # frame: a pandas DataFrame with one column per field, built once per batch;
    # matrix: a float64 matrix, fields in order, booleans as 0/1, categoricals one-hot.
    input: Literal["frame", "matrix"]
    # argmax: the most probable class (scikit-learn's own predict for probabilistic
    # classifiers, one model call); predict: the estimator's predict too (a second call).
    prediction: Literal["argmax", "predict"] = "argmax"
    classes: list[ClassLabel] | None = None  # the estimator's classes_, in its order
    probability_names: list[str] | None = None  # keys of `probability`; default: str(class)
    bounds_margin: float | None = None  # how far inferred bounds go past the sample's range
    fields: Annotated[list[FieldSpec], Field(min_length=1)]
    rules: list[str] = Field(default_factory=list)
    example: dict[str, Any]

    @model_validator(mode="after")
    def _consistent(self) -> ModelSchema:
        names = [f.name for f in self.fields]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"fields named twice: {', '.join(twice)}")
        if self.kind == "classifier":
            if not self.classes or len(self.classes) < 2:
                raise ValueError("a classifier lists at least two classes")
            if len(set(map(str, self.classes))) != len(self.classes):
                raise ValueError("classes are listed twice")
            labels = self.labels
            if len(labels) != len(self.classes) or len(set(labels)) != len(labels):
                raise ValueError("probability_names: one distinct name per class")
        elif self.classes is not None or self.probability_names is not None:
            raise ValueError("a regressor has no classes or probability_names")
        if self.input == "matrix" and any(f.dtype for f in self.fields):
            raise ValueError("dtype applies to frame input only")
        numeric = {f.name for f in self.fields if f.type in ("integer", "number")}
        for text in self.rules:
            rule = parse_rule(text)
            unknown = [n for n in (rule.left, rule.right) if n not in numeric]
            if unknown:
                raise ValueError(f"rule {text!r}: {', '.join(unknown)} is not a numeric field")
        missing = [n for n in names if n not in self.example]
        extra = [n for n in self.example if n not in names]
        if missing or extra:
            raise ValueError("example: " + "; ".join(
                part for part in (f"missing {', '.join(missing)}" if missing else "",
                                  f"unknown {', '.join(extra)}" if extra else "") if part))
        return self

    @property
    def labels(self) -> list[str]:
        """The keys of `probability`, in the estimator's class order (empty for a regressor)."""
        if self.kind != "classifier" or not self.classes:
            return []
        return list(self.probability_names or [str(c) for c in self.classes])

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def parsed_rules(self) -> list[Rule]:
        return [parse_rule(text) for text in self.rules]

    def renamed(self, name: str) -> ModelSchema:
        return self.model_copy(update={"name": name})


def _where(document: Any, loc: tuple[int | str, ...]) -> str:
    """A location as a person reads it: fields[2] (age).minimum."""
    out = ""
    node = document
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, Mapping) and isinstance(node.get("name"), str):
                out += f" ({node['name']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, Mapping) else None
    return out or "the file"


def explain(error: ValidationError, document: Any, source: str) -> SchemaError:
    lines = []
    for item in error.errors(include_url=False):
        # Union members and validators add their own tags to a location: not what a person wrote.
        loc = tuple(p for p in item["loc"]
                    if not (isinstance(p, str) and (p in _TYPE_TAGS or p.startswith("function-"))))
        message = str(item["msg"]).removeprefix("Value error, ")
        got = item.get("input")
        shown = f" (got {got!r})" if item["type"] not in ("value_error", "missing") and isinstance(
            got, str | int | float | bool) else ""
        lines.append(f"{source}: {_where(document, loc)}: {message}{shown}")
    return SchemaError(lines)


def schema_from_document(document: Any, source: str) -> ModelSchema:
    if not isinstance(document, Mapping):
        raise SchemaError([f"{source}: expected a mapping of keys (name, kind, fields, ...), "
                           f"got {type(document).__name__}"])
    try:
        return ModelSchema.model_validate(document)
    except ValidationError as error:
        raise explain(error, document, source) from None


def load_schema(path: Path) -> ModelSchema:
    """The declaration in `path`, validated; SchemaError with one line per mistake."""
    import yaml

    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise SchemaError([f"{path}: cannot read it ({error.strerror})"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SchemaError([f"{path}: not valid YAML{where}: {getattr(error, 'problem', error)}"]) from None
    return schema_from_document(document, str(path))


HEADER = """\
# servebench model declaration: what the model is, what it takes, how requests are checked.
# Edit it freely (tighten bounds, list categories, allow nulls); servebench validates it on load.
#   kind: classifier | regressor          input: frame (pandas DataFrame) | matrix (float64)
#   fields[].type: integer | number | boolean | categorical
#   fields[].minimum / maximum: accepted range (numbers); categories: accepted values
#   fields[].nullable: whether null is accepted; dtype: the column's pandas dtype (frame input)
#   rules: cross-field comparisons such as "total >= monthly"
"""


def dump_schema(schema: ModelSchema, note: str = "") -> str:
    """The declaration as YAML, keys in their declared order, with the explaining header."""
    import yaml

    data = schema.model_dump(mode="json", exclude_none=True)
    for field in data["fields"]:  # an integer field's bounds read as integers
        for bound in ("minimum", "maximum"):
            if field["type"] == "integer" and bound in field:
                field[bound] = int(field[bound])
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return HEADER + (f"# {note}\n" if note else "") + body
