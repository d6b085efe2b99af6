"""The served model as a report shows it first: what it is, what it costs in process, and which
stacks could not serve it.

Read from the header's model cards (loadtests/model_card.py measured them in the harness's own
process before any stack started) and from each stack's verification checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from servebench.results.schema import Check, FieldCard, ModelCard, RunHeader, StackLaunch


@dataclass(frozen=True)
class ModelSection:
    card: ModelCard
    what: str  # "3-class classifier (sklearn...RandomForestClassifier), matrix input"
    fields: list[str]  # one line per field: "age: integer 18 - 80, may be null"
    predict_us: list[tuple[str, float, float]]  # (rows, median µs, p90 µs) of predict_batch
    json_to_input_us: float
    validation_us: float
    conversion_us: float


@dataclass(frozen=True)
class FailedVerification:
    stack: str
    reason: str
    checks: list[Check]  # the checks that failed (empty when the stack failed before them)


def _number(value: float) -> str:
    return f"{value:g}"


def field_line(field: FieldCard) -> str:
    text = f"{field.name}: {field.type}"
    if field.minimum is not None or field.maximum is not None:
        low = _number(field.minimum) if field.minimum is not None else "…"
        high = _number(field.maximum) if field.maximum is not None else "…"
        text += f" {low} – {high}"
    if field.categories:
        more = f", … ({len(field.categories)})" if len(field.categories) > 8 else ""
        shown = ", ".join(field.categories[:8]) + more
        text += f" ({shown})"
    return text + (", may be null" if field.nullable else "")


def describe(card: ModelCard) -> str:
    kind = (f"{len(card.classes or [])}-class classifier" if card.kind == "classifier" else "regressor")
    origin = "servebench's own" if card.builtin else "registered"
    return f"{kind} ({card.estimator}), {card.input} input, {len(card.fields)} fields, {origin} model"


def model_sections(header: RunHeader) -> list[ModelSection]:
    """One section per model the run served, in the order the run named them."""
    sections = []
    for card in header.model_cards.values():
        timings = sorted(card.predict_batch.items(), key=lambda item: int(item[0]))
        sections.append(ModelSection(
            card=card, what=describe(card), fields=[field_line(f) for f in card.fields],
            predict_us=[(rows, t.median_us, t.p90_us) for rows, t in timings],
            json_to_input_us=card.json_to_input_us, validation_us=card.validation.median_us,
            conversion_us=card.conversion.median_us,
        ))
    return sections


def failed_verification(outcomes: list[StackLaunch]) -> list[FailedVerification]:
    """Stacks that did not serve the model as verified, with the checks that failed."""
    return [FailedVerification(o.stack, o.reason or "failed", [c for c in o.checks if not c.ok])
            for o in outcomes if o.status == "failed"]
