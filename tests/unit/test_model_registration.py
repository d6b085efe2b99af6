"""`servebench model add`: what it infers from a fitted model and a sample, what it refuses, and
what every stack then builds from the declaration (request models, bad cases, the conversion)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from servebench.cli import main
from servers.columns import InvalidColumns, input_from_columns
from servers.protocols import OPEN_INFERENCE, v2_datatypes
from shared_model.cases import BATCH, bad_cases
from shared_model.contract_models import contract_models
from shared_model.models import RegisteredModel, get_model
from shared_model.predictor import Predictions, Predictor
from shared_model.register import RegistrationError, add_model
from tests.user_models import NAMES, Trained, train

V2_NUMPY = {"FP64": np.float64, "INT64": np.int64, "BOOL": bool, "BYTES": object}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trained]:
    directory = tmp_path_factory.mktemp("trained")
    return {name: train(name, directory) for name in NAMES}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def models(trained: dict[str, Trained], root: Path) -> dict[str, RegisteredModel]:
    return {name: add_model(name, t.artifact, t.sample, trust=list(t.trust), root=root)
            for name, t in trained.items()}


def test_a_multiclass_classifier_on_a_bare_matrix(models: dict[str, RegisteredModel]) -> None:
    schema = models["iris"].schema
    assert (schema.kind, schema.input, schema.prediction) == ("classifier", "matrix", "argmax")
    assert schema.classes == ["setosa", "versicolor", "virginica"] and schema.labels == schema.classes
    assert [f.type for f in schema.fields] == ["number"] * 4 and not any(f.nullable for f in schema.fields)
    assert schema.estimator.endswith("RandomForestClassifier") and schema.artifact.format == "joblib"


def test_a_regressor_on_a_frame(models: dict[str, RegisteredModel], trained: dict[str, Trained]) -> None:
    schema = models["diabetes"].schema
    assert (schema.kind, schema.input, schema.classes) == ("regressor", "frame", None)
    sample = pd.read_json(trained["diabetes"].sample, lines=True)
    assert schema.field_names == list(sample.columns)
    for spec in schema.fields:
        low, high = float(sample[spec.name].min()), float(sample[spec.name].max())
        assert spec.type == "number" and spec.dtype == "float64"
        assert spec.minimum is not None and spec.maximum is not None
        # The sample's range widened by the stated margin of it, on each side.
        assert spec.minimum == pytest.approx(low - 0.1 * (high - low), rel=1e-5)
        assert spec.maximum == pytest.approx(high + 0.1 * (high - low), rel=1e-5)
    assert schema.bounds_margin == 0.1


def test_a_pipeline_with_text_categories_and_missing_values(models: dict[str, RegisteredModel]) -> None:
    schema = models["loans"].schema
    assert (schema.kind, schema.input, schema.classes) == ("classifier", "frame", [0, 1])
    fields = {f.name: f for f in schema.fields}
    assert {name: (f.type, f.nullable) for name, f in fields.items()} == {
        "age": ("integer", False), "income": ("number", True), "region": ("categorical", True),
        "plan": ("categorical", False), "active": ("boolean", False)}
    # The encoder's categories, found through the column transformer and the imputer before it.
    assert set(fields["region"].categories or ()) == {"north", "south", "east", "west"}
    assert set(fields["plan"].categories or ()) == {"basic", "plus", "pro"}
    assert fields["age"].minimum is not None and fields["age"].minimum == int(fields["age"].minimum)
    assert schema.artifact.format == "skops" and schema.artifact.trusted


def test_the_registration_holds_the_artifact_its_sha256_and_golden_answers(
        models: dict[str, RegisteredModel]) -> None:
    for model in models.values():
        assert model.directory is not None
        digest = hashlib.sha256(model.artifact.read_bytes()).hexdigest()
        assert (model.directory / "artifact.sha256").read_text().split() == [digest, model.artifact.name]
        assert model.expected_sha256() == digest
        golden = model.registered_golden()
        assert golden and len(golden) <= 12
        predictor = Predictor.load(model, build_if_missing=False)
        answers = predictor.predict_rows([case["request"] for case in golden])
        for i, case in enumerate(golden):
            if model.schema.kind == "classifier":
                assert answers.classes[i] == case["prediction"]
                np.testing.assert_allclose(answers.proba[i], case["probability"], atol=1e-12)
            else:
                assert answers.classes[i] == pytest.approx(case["prediction"], abs=1e-12)
        rows = model.sample_rows()
        assert rows[:len(golden)] == [case["request"] for case in golden]
        if model.schema.kind == "classifier":  # every class the sample's rows get is in the golden ones
            predicted = set(predictor.predict_rows(rows).classes.tolist())
            assert predicted <= {case["prediction"] for case in golden}
    nullable = [row for row in models["loans"].registered_golden() or []
                if any(value is None for value in row["request"].values())]
    assert nullable, "golden rows include missing values"


def test_a_sample_whose_columns_differ_is_refused_with_the_names(
        trained: dict[str, Trained], tmp_path: Path) -> None:
    loans = trained["loans"]
    sample = pd.read_csv(loans.sample).drop(columns="plan").assign(score=1.0)
    wrong = tmp_path / "wrong.csv"
    sample.to_csv(wrong, index=False)
    with pytest.raises(RegistrationError) as raised:
        add_model("wrong", loans.artifact, wrong, trust=list(loans.trust), root=tmp_path / "models")
    message = str(raised.value)
    assert "'plan'" in message and "'score'" in message and "\n" not in message
    assert not (tmp_path / "models" / "wrong").exists()


def test_a_skops_file_with_types_nobody_trusted_is_refused(trained: dict[str, Trained],
                                                           tmp_path: Path) -> None:
    loans = trained["loans"]
    with pytest.raises(RegistrationError, match="--trust"):
        add_model("untrusted", loans.artifact, loans.sample, root=tmp_path)


def test_names_of_the_churn_models_and_existing_ones_are_refused(
        trained: dict[str, Trained], models: dict[str, RegisteredModel], root: Path) -> None:
    iris = trained["iris"]
    with pytest.raises(RegistrationError, match="servebench's own models"):
        add_model("default", iris.artifact, iris.sample, root=root)
    with pytest.raises(RegistrationError, match="--force"):
        add_model("iris", iris.artifact, iris.sample, root=root)


def test_generated_bad_cases_cover_every_field_and_are_all_rejected(
        models: dict[str, RegisteredModel]) -> None:
    for model in models.values():
        schema = model.schema
        contract = contract_models(schema)
        cases = bad_cases(schema)
        names = {case.name for case in cases}
        for spec in schema.fields:
            assert f"{spec.name}.missing_field" in names
            null_case = f"{spec.name}.null_field" in names or f"{spec.name}.null_for_bool" in names
            assert null_case != spec.nullable
            if spec.minimum is not None:
                assert f"{spec.name}.below_minimum" in names and f"{spec.name}.above_maximum" in names
            if spec.type == "categorical":
                assert f"{spec.name}.unknown_category" in names
            if spec.type == "number":
                assert f"{spec.name}.nan_token" in names and f"{spec.name}.infinity_token" in names
        for case in cases:
            if case.group in ("media_type", "method"):
                continue  # a valid body sent the wrong way: the framework's routing refuses it
            request_model = contract.batch if case.path == BATCH else contract.single
            with pytest.raises(ValidationError):
                request_model.model_validate_json(case.body)
        contract.single.model_validate(schema.example)


def test_columns_and_rows_convert_alike(models: dict[str, RegisteredModel]) -> None:
    """The tensor protocol's columns (nulls as NaN and "") and the contract's rows build the same
    input, and the columns are checked by the same rules."""
    for model in models.values():
        schema = model.schema
        predictor = Predictor.load(model, build_if_missing=False)
        rows = model.sample_rows()[:40]
        validated = [contract_models(schema).single.model_validate(row) for row in rows]
        from_rows = predictor.to_input(validated)
        body = json.loads(OPEN_INFERENCE.request(rows, True, {"batch": "/", "predict": "/"}, schema).body)
        columns = {t["name"]: np.asarray(t["data"], dtype=V2_NUMPY[t["datatype"]]).reshape(t["shape"])
                   for t in body["inputs"]}
        from_columns = input_from_columns(schema, columns)
        if schema.input == "frame":
            pd.testing.assert_frame_equal(from_columns, from_rows)
        else:
            np.testing.assert_array_equal(from_columns, from_rows)
        assert set(v2_datatypes(schema)) == set(schema.field_names)
        first = schema.fields[0]
        if first.maximum is not None:
            broken = {**columns, first.name: np.full((len(rows), 1), first.maximum + 1,
                                                    dtype=V2_NUMPY[v2_datatypes(schema)[first.name]])}
            with pytest.raises(InvalidColumns, match=first.name):
                input_from_columns(schema, broken)


def test_answers_travel_as_one_array_and_back(models: dict[str, RegisteredModel]) -> None:
    for model in models.values():
        predictor = Predictor.load(model, build_if_missing=False)
        result = predictor.predict_rows(model.sample_rows()[:10])
        back = Predictions.from_array(predictor.to_array(result), model.schema)
        assert back.classes.tolist() == result.classes.tolist()
        assert back.as_dicts() == result.as_dicts()


def test_the_model_command_lists_and_shows_them(models: dict[str, RegisteredModel], root: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SERVEBENCH_MODELS_DIR", str(root))
    assert main(["model", "list"]) == 0
    listed = capsys.readouterr().out
    for name in ("light", "default", "heavy", *models):
        assert name in listed
    assert main(["model", "show", "loans"]) == 0
    assert "categories:" in capsys.readouterr().out
    assert get_model("loans").schema == models["loans"].schema
