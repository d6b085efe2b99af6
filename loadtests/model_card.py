"""Describe and time a model in the harness's own process, before any stack serves it.

What a run's report says about the model first: its kind, estimator, input and fields, what one
`predict_batch` call takes at 1, 8 and 64 rows, and what turning one JSON body into the model's
input takes (validation against the request schema, then the conversion). No server is
involved: these are the model's own costs, which every stack pays on top of its own. Medians and
90th percentiles of repeated calls on this machine, whatever else runs on it: the header records
the machine, and these are read next to the stacks' numbers from the same run.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from loadtests.session import ModelUnderTest
from servebench.results.schema import FieldCard, ModelCard, Timing
from shared_model.contract_models import contract_models
from shared_model.predictor import Predictor

ROWS = (1, 8, 64)
BUDGET_S = 0.25  # per timing: calls until this much time has passed ...
MIN_CALLS, MAX_CALLS = 5, 2000  # ... within these bounds


def time_calls(call: Callable[[int], Any]) -> Timing:
    """call(i) repeated within the budget; the first call (cold caches) is not counted."""
    call(0)
    times: list[float] = []
    deadline = time.perf_counter() + BUDGET_S
    while len(times) < MAX_CALLS and (len(times) < MIN_CALLS or time.perf_counter() < deadline):
        started = time.perf_counter()
        call(len(times))
        times.append(time.perf_counter() - started)
    ordered = sorted(times)
    return Timing(calls=len(times), median_us=round(statistics.median(ordered) * 1e6, 2),
                  p90_us=round(ordered[int(0.9 * (len(ordered) - 1))] * 1e6, 2))


def _versions() -> dict[str, str]:
    found = {}
    for name in ("scikit-learn", "numpy", "pandas", "skops"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _predicting(predictor: Predictor, X: Any) -> Callable[[int], Any]:
    return lambda _: predictor.predict_batch(X)


def describe(model: ModelUnderTest) -> ModelCard:
    predictor = model.predictor
    schema = predictor.schema
    rows = [case.request for case in (model.payload or model.golden)]
    inputs = {n: predictor.to_input([rows[i % len(rows)] for i in range(n)]) for n in ROWS}
    predict = {str(n): time_calls(_predicting(predictor, inputs[n])) for n in ROWS}
    request_model = contract_models(schema).single
    bodies = [json.dumps(row).encode() for row in rows]
    parsed = [request_model.model_validate_json(body) for body in bodies]
    validate = time_calls(lambda i: request_model.model_validate_json(bodies[i % len(bodies)]))
    convert = time_calls(lambda i: predictor.to_input([parsed[i % len(parsed)]]))
    return ModelCard(
        name=model.name, kind=schema.kind,
        estimator=str(predictor.metadata.get("estimator", schema.estimator)),
        input=schema.input, sha256=model.fingerprint, builtin=model.registered.builtin,
        fields=[FieldCard(name=f.name, type=f.type, nullable=f.nullable, minimum=f.minimum, maximum=f.maximum,
                          categories=f.categories) for f in schema.fields],
        classes=schema.labels or None, predict_batch=predict, validation=validate, conversion=convert,
        json_to_input_us=round(validate.median_us + convert.median_us, 2), versions=_versions(),
        note=f"in the harness's process, before the run: each time the median of repeated calls "
             f"({MIN_CALLS} at least, for {BUDGET_S:g} s), the first call not counted; rows drawn from "
             "the model's payload rows",
    )
