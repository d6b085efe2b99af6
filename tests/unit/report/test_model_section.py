"""The model a run served, as its report describes it first."""

from __future__ import annotations

from servebench.report.model import FailedVerification, ModelSection, describe, field_line, model_sections
from servebench.report.render import render
from servebench.results.schema import Check, FieldCard, ModelCard, Timing
from servebench.results.store import LoadedRun


def _card() -> ModelCard:
    timing = Timing(calls=50, median_us=120.5, p90_us=140.0)
    return ModelCard(
        name="houses", kind="regressor", estimator="Ridge", input="frame", sha256="ab" * 32, builtin=False,
        fields=[FieldCard(name="rooms", type="integer", nullable=False, minimum=1, maximum=12),
                FieldCard(name="district", type="categorical", nullable=True, categories=["north", "south"])],
        classes=None, predict_batch={"64": timing, "1": timing, "8": timing},
        validation=Timing(calls=900, median_us=3.5, p90_us=4.0),
        conversion=Timing(calls=900, median_us=41.0, p90_us=50.0), json_to_input_us=44.5,
        versions={"scikit-learn": "1.9.1"}, note="in process")


def test_a_model_is_described_by_kind_fields_and_costs(loaded: LoadedRun) -> None:
    card = _card()
    assert describe(card) == "regressor (Ridge), frame input, 2 fields, registered model"
    assert field_line(card.fields[0]) == "rooms: integer 1 – 12"
    assert field_line(card.fields[1]) == "district: categorical (north, south), may be null"
    run = loaded.run.model_copy(update={"model_cards": {"houses": card}})
    (section,) = model_sections(run)
    assert [rows for rows, _, _ in section.predict_us] == ["1", "8", "64"]
    assert section.json_to_input_us == 44.5
    assert model_sections(loaded.run) == []  # a run recorded before model cards


def test_the_section_names_the_model_and_the_stacks_that_failed_verification() -> None:
    card = _card()
    section = ModelSection(card, describe(card), [field_line(f) for f in card.fields],
                           [("1", 120.5, 140.0)], 44.5, 3.5, 41.0)
    failed = FailedVerification("triton", "verification failed",
                                [Check(name="bad_rooms.below_minimum", ok=False, detail="fail: status 500")])
    page = render("model.html", {"models": [section], "not_verified": [failed]})
    assert "The model: houses" in page and "44.5" in page and "JSON → model input" in page
    assert "triton" in page and "bad_rooms.below_minimum" in page
    assert "The model" not in render("model.html", {"models": [], "not_verified": [failed]})
