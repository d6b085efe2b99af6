"""A model's declaration (schema.yaml): validated on load, one clear line per mistake."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from shared_model.cases import GOLDEN_REQUESTS, SEED_EXAMPLE
from shared_model.contract_models import contract_models
from shared_model.convert import Converter, matrix_columns
from shared_model.features import COLUMNS, to_matrix
from shared_model.model_schema import SchemaError, dump_schema, load_schema
from shared_model.models import CHURN_SCHEMA
from shared_model.schemas import PredictRequest

DECLARATION: dict[str, Any] = {
    "name": "houses",
    "kind": "regressor",
    "estimator": "sklearn.linear_model.Ridge",
    "artifact": {"file": "model.joblib", "format": "joblib"},
    "input": "frame",
    "fields": [
        {"name": "rooms", "type": "integer", "minimum": 1, "maximum": 12},
        {"name": "area", "type": "number", "minimum": 10.0, "maximum": 900.0, "nullable": True},
        {"name": "garden", "type": "boolean"},
        {"name": "district", "type": "categorical", "categories": ["north", "south"]},
    ],
    "example": {"rooms": 3, "area": 72.5, "garden": True, "district": "north"},
}


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _mistakes(tmp_path: Path, change: Any) -> list[str]:
    document = copy.deepcopy(DECLARATION)
    change(document)
    with pytest.raises(SchemaError) as raised:
        load_schema(_write(tmp_path, document))
    return raised.value.lines


def test_a_valid_declaration_loads_and_round_trips(tmp_path: Path) -> None:
    schema = load_schema(_write(tmp_path, DECLARATION))
    assert schema.field_names == ["rooms", "area", "garden", "district"]
    assert schema.field("area").nullable and not schema.field("rooms").nullable
    again = tmp_path / "again.yaml"
    again.write_text(dump_schema(schema, "a note"))
    assert load_schema(again) == schema
    assert again.read_text().startswith("# servebench model declaration")


def test_a_mistyped_bound_is_one_line_naming_the_field(tmp_path: Path) -> None:
    lines = _mistakes(tmp_path, lambda d: d["fields"][0].update(minimum="one"))
    assert len(lines) == 1
    assert "fields[0] (rooms).minimum" in lines[0] and "'one'" in lines[0]
    assert lines[0].startswith(str(tmp_path / "schema.yaml"))


def test_an_empty_category_list_is_one_line(tmp_path: Path) -> None:
    lines = _mistakes(tmp_path, lambda d: d["fields"][3].update(categories=[]))
    assert lines == [f"{tmp_path / 'schema.yaml'}: fields[3] (district): "
                     "a categorical field needs at least one category"]


def test_each_mistake_gets_its_own_line(tmp_path: Path) -> None:
    def change(document: dict[str, Any]) -> None:
        document["fields"][1]["minimun"] = 0  # a misspelt key
        document["fields"][2]["type"] = "bool"  # not one of the four types
        document["kind"] = "ranker"

    lines = _mistakes(tmp_path, change)
    assert len(lines) == 3, lines
    assert any("fields[1] (area).minimun: Extra inputs are not permitted" in line for line in lines)
    assert any("fields[2] (garden).type" in line and "'bool'" in line for line in lines)
    assert any("kind" in line and "'ranker'" in line for line in lines)


@pytest.mark.parametrize(("change", "words"), [
    (lambda d: d["fields"][0].update(minimum=20), "minimum 20 is above maximum 12"),
    (lambda d: d["fields"][0].update(minimum=0.5), "an integer field's bounds are integers"),
    (lambda d: d["fields"][2].update(minimum=0), "a boolean field has no minimum or maximum"),
    (lambda d: d["fields"].append({"name": "rooms", "type": "integer"}), "fields named twice: rooms"),
    (lambda d: d["example"].pop("garden"), "example: missing garden"),
    (lambda d: d.update(classes=[0, 1]), "a regressor has no classes"),
    (lambda d: d.update(rules=["rooms >= garden"]), "garden is not a numeric field"),
    (lambda d: d.update(name="Houses!"), "name"),
])
def test_inconsistent_declarations_say_what_is_wrong(tmp_path: Path, change: Any, words: str) -> None:
    lines = _mistakes(tmp_path, change)
    assert len(lines) == 1 and words in lines[0], lines


def test_yaml_that_does_not_parse_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text("name: houses\nfields: [\n  - oops: {\n")
    with pytest.raises(SchemaError) as raised:
        load_schema(path)
    assert len(raised.value.lines) == 1 and "not valid YAML at line" in raised.value.lines[0]


def test_the_example_must_pass_the_declared_rules(tmp_path: Path) -> None:
    document = copy.deepcopy(DECLARATION)
    document["example"]["rooms"] = 40
    schema = load_schema(_write(tmp_path, document))
    with pytest.raises(ValidationError):
        contract_models(schema)


def test_request_models_follow_the_declaration(tmp_path: Path) -> None:
    models = contract_models(load_schema(_write(tmp_path, DECLARATION)))
    row = models.single.model_validate_json(json.dumps({**DECLARATION["example"], "area": None}))
    assert row.area is None
    for change in ({"rooms": 13}, {"rooms": "3"}, {"garden": None}, {"district": "east"},
                   {"area": 9.0}, {"extra": 1}):
        with pytest.raises(ValidationError):
            models.single.model_validate_json(json.dumps({**DECLARATION["example"], **change}))
    answer = models.response.model_validate({"prediction": 1.5, "model_version": "abc"})
    assert answer.prediction == 1.5
    properties = models.single.model_json_schema()["properties"]
    assert list(properties) == ["rooms", "area", "garden", "district"]


# ---- servebench's own churn models: the same declaration format, the same answers ----------

def test_the_churn_declaration_keeps_the_contract() -> None:
    churn = load_schema(CHURN_SCHEMA)
    assert churn.example == SEED_EXAMPLE
    assert SEED_EXAMPLE == {"tenure_months": 24, "monthly_charges": 65.5, "total_charges": 1572.0,
                            "num_products": 3, "has_phone_service": True, "has_internet": True,
                            "contract_type": "month-to-month", "payment_method": "electronic"}
    assert churn.input == "matrix" and churn.labels == ["no_churn", "churn"]
    assert matrix_columns(churn) == list(COLUMNS)
    rule = "total_charges must be greater than or equal to monthly_charges"
    with pytest.raises(ValidationError, match=rule):
        PredictRequest.model_validate({**SEED_EXAMPLE, "total_charges": 1.0})


def test_the_churn_conversion_is_the_training_matrix() -> None:
    converter = Converter(load_schema(CHURN_SCHEMA))
    validated = [PredictRequest.model_validate(row) for row in GOLDEN_REQUESTS]
    np.testing.assert_array_equal(converter.rows_input(validated), to_matrix(validated))
    np.testing.assert_array_equal(converter.rows_input(list(GOLDEN_REQUESTS)), to_matrix(GOLDEN_REQUESTS))
    # The general path (per-field arrays, as the column protocols use) builds the same matrix.
    np.testing.assert_array_equal(converter.from_arrays(converter.arrays(converter.columns(validated)),
                                                        len(validated)), to_matrix(validated))
    assert converter.rows_input([]).shape == (0, len(COLUMNS))


def test_the_direct_matrix_equals_the_general_conversion_for_any_layout(tmp_path: Path) -> None:
    document = copy.deepcopy(DECLARATION)
    document.update(input="matrix", fields=[
        {"name": "district", "type": "categorical", "categories": ["north", "south", "east"]},
        {"name": "area", "type": "number", "minimum": 10.0, "maximum": 900.0},
        {"name": "tier", "type": "categorical", "categories": ["a", "b"]},
        {"name": "garden", "type": "boolean"},
    ], example={"district": "south", "area": 72.5, "tier": "b", "garden": True})
    schema = load_schema(_write(tmp_path, document))
    converter = Converter(schema)
    rows = [{"district": d, "area": 10.0 + i, "tier": t, "garden": i % 2 == 0}
            for i, (d, t) in enumerate([("north", "a"), ("east", "b"), ("south", "b"), ("east", "a")])]
    validated = [contract_models(schema).single.model_validate(row) for row in rows]
    general = converter.from_arrays(converter.arrays(converter.columns(validated)), len(rows))
    np.testing.assert_array_equal(converter.rows_input(validated), general)
    np.testing.assert_array_equal(converter.rows_input(rows), general)
    assert matrix_columns(schema) == ["district=north", "district=south", "district=east", "area",
                                      "tier=a", "tier=b", "garden"]
    assert general[1].tolist() == [0.0, 0.0, 1.0, 11.0, 0.0, 1.0, 0.0]
