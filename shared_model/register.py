"""`servebench model add`: inspect a fitted model and a sample of its inputs, infer its
declaration, and register it under models/<name>/ (see shared_model/models.py).

    estimator   a fitted scikit-learn estimator or Pipeline, or anything with its API: `predict`,
                and `predict_proba` and `classes_` for a classifier (joblib, pickle or skops)
    sample      rows of its inputs (CSV, JSON records or JSON lines), one column per feature

What is inferred, per field: its type (integer, number, boolean, categorical), its bounds (the
sample's range widened by a stated margin), the allowed categories (the pipeline's encoders'
where it has them, and the sample's), whether it may be null (the sample has missing values).
The registration is refused, with the reason on one line, when the sample's columns differ from
the model's, when converting the sample's rows as a server will does not reproduce the model's
own answers on the sample, or when a skops file holds types nobody accepted.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared_model.contract_models import contract_models
from shared_model.loading import load_bytes, skops_untrusted
from shared_model.model_schema import (
    Artifact,
    FieldSpec,
    ModelSchema,
    SchemaError,
    dump_schema,
    schema_from_document,
)
from shared_model.models import (
    GOLDEN_FILE,
    METADATA_FILE,
    SAMPLE_FILE,
    SCHEMA_FILE,
    SHA256_FILE,
    RegisteredModel,
    models_dir,
    user_model,
)
from shared_model.profiles import PROFILES
from shared_model.training import sha256_bytes

BOUNDS_MARGIN = 0.1  # bounds: the sample's range, widened by this share of it on each side
MAX_SAMPLE_ROWS = 1000  # rows kept for the workloads (a seeded subset of a larger sample)
GOLDEN_ROWS = 12
ANSWER_TOLERANCE = 1e-9  # converted rows against the model's own answers on the sample
FORMATS = {".skops": "skops", ".joblib": "joblib", ".jl": "joblib", ".pkl": "pickle", ".pickle": "pickle"}


class RegistrationError(ValueError):
    """The model cannot be registered as given; the message says why, on one line."""


# ---- reading the inputs -------------------------------------------------------------------------

def read_sample(path: Path) -> pd.DataFrame:
    """A sample of inputs: CSV, JSON (a list of records) or JSON lines."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix in (".jsonl", ".ndjson"):
            frame = pd.read_json(path, lines=True)
        elif suffix == ".json":
            frame = pd.DataFrame.from_records(json.loads(path.read_text()))
        else:
            raise RegistrationError(f"{path}: a sample is .csv, .json (records) or .jsonl, "
                                    f"not {suffix or 'no suffix'}")
    except (OSError, ValueError) as error:
        if isinstance(error, RegistrationError):
            raise
        raise RegistrationError(f"{path}: cannot read the sample ({error})") from None
    if frame.empty or not len(frame.columns):
        raise RegistrationError(f"{path}: the sample has no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def artifact_format(path: Path, given: str | None = None) -> str:
    if given:
        return given
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise RegistrationError(f"{path}: say its format with --format (joblib, pickle or skops); "
                                f"suffixes known: {', '.join(FORMATS)}") from None


def load_estimator(blob: bytes, fmt: str, trust: list[str]) -> Any:
    if fmt == "skops":
        untrusted = [name for name in skops_untrusted(blob) if name not in trust]
        if untrusted:
            raise RegistrationError(
                "the skops file holds types skops does not trust by default: "
                f"{', '.join(untrusted)}; check them, then add --trust for each")
    try:
        return load_bytes(blob, fmt, trust)
    except Exception as error:
        raise RegistrationError(
            f"cannot load the artifact as {fmt}: {type(error).__name__}: {error}") from None


# ---- inferring the declaration ---------------------------------------------------------------

def model_kind(estimator: Any) -> str:
    if not hasattr(estimator, "predict"):
        raise RegistrationError(f"{type(estimator).__name__} has no predict(): not an estimator")
    if hasattr(estimator, "classes_"):
        if not hasattr(estimator, "predict_proba"):
            raise RegistrationError(f"{type(estimator).__name__} is a classifier without predict_proba(): "
                                    "servebench answers with probabilities")
        return "classifier"
    return "regressor"


def _encoders(estimator: Any) -> dict[str, list[Any]]:
    """Categories the estimator's encoders learnt, by input column, where they can be traced."""
    found: dict[str, list[Any]] = {}

    def visit(step: Any, columns: list[str] | None) -> None:
        if hasattr(step, "steps"):  # a Pipeline: its steps see the columns, e.g. imputer then encoder
            for _, inner in step.steps:
                visit(inner, columns)
        elif hasattr(step, "transformers_"):  # a ColumnTransformer: each part sees its columns
            for _, inner, selected in step.transformers_:
                listed = isinstance(selected, list | tuple | np.ndarray)
                if listed and all(isinstance(c, str) for c in selected):
                    visit(inner, [str(c) for c in selected])
        elif hasattr(step, "categories_"):
            # The step's own names, else the columns its part of the pipeline was given (an
            # encoder after an imputer sees an array), when there are as many of them.
            names = [str(c) for c in getattr(step, "feature_names_in_", [])] or columns or []
            if len(names) == len(step.categories_):
                for name, categories in zip(names, step.categories_, strict=True):
                    found[name] = list(categories)

    visit(estimator, None)
    return found


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _bounds(column: pd.Series, integer: bool, margin: float) -> tuple[float, float]:
    low, high = float(column.min()), float(column.max())
    pad = margin * (high - low) if high > low else margin * max(abs(high), 1.0)
    lower, upper = low - pad, high + pad
    if low >= 0 > lower:  # never negative in the sample: stays non-negative
        lower = 0.0
    if integer:
        return float(math.floor(lower)), float(math.ceil(upper))
    return float(f"{lower:.6g}"), float(f"{upper:.6g}")


def infer_field(name: str, column: pd.Series, encoded: list[Any] | None, margin: float,
                frame_input: bool) -> FieldSpec:
    nullable = bool(column.isna().any())
    present = column.dropna()
    dtype = column.dtype
    spec: dict[str, Any] = {"name": name, "nullable": nullable}
    if present.empty:
        raise RegistrationError(f"column {name!r} has no value in the sample: nothing to infer its type from")
    if dtype.kind == "b":
        spec.update(type="boolean", dtype="bool")
    elif dtype.kind in "iu":
        spec.update(type="integer", dtype="int64")
        spec["minimum"], spec["maximum"] = _bounds(present, True, margin)
    elif dtype.kind == "f":
        spec.update(type="number", dtype="float64")
        spec["minimum"], spec["maximum"] = _bounds(present, False, margin)
    else:
        kinds = {type(v) for v in present.tolist()}
        if kinds <= {bool, np.bool_}:
            spec.update(type="boolean", dtype="object")
        elif kinds <= {str}:
            seen = sorted(set(present.tolist()))
            learnt = [str(c) for c in encoded or [] if not _is_missing(c)]
            spec.update(type="categorical", dtype="object",
                        categories=learnt + [c for c in seen if c not in learnt])
        else:
            mixed = ", ".join(sorted(k.__name__ for k in kinds))
            raise RegistrationError(f"column {name!r} mixes value types ({mixed}): "
                                    "give it one type in the sample")
    if not frame_input:
        spec.pop("dtype", None)
    return FieldSpec.model_validate(spec)


def _json_value(value: Any, spec: FieldSpec) -> Any:
    if _is_missing(value):
        return None
    if spec.type == "integer":
        return int(value)
    if spec.type == "number":
        return float(value)
    if spec.type == "boolean":
        return bool(value)
    return str(value)


def json_rows(frame: pd.DataFrame, fields: list[FieldSpec]) -> list[dict[str, Any]]:
    """The sample's rows as a client sends them: plain JSON values, null where missing."""
    columns = {spec.name: frame[spec.name].tolist() for spec in fields}
    return [{spec.name: _json_value(columns[spec.name][i], spec) for spec in fields}
            for i in range(len(frame))]


@dataclass(frozen=True)
class Inferred:
    schema: ModelSchema
    rows: list[dict[str, Any]]  # the sample's rows (a subset when it is large), as JSON
    model_input: Any  # the sample as the estimator takes it, for the answers check


def infer(name: str, estimator: Any, sample: pd.DataFrame, artifact: Artifact,
          margin: float = BOUNDS_MARGIN) -> Inferred:
    """The declaration of `estimator` from `sample`; RegistrationError when they do not fit."""
    kind = model_kind(estimator)
    features = getattr(estimator, "feature_names_in_", None)
    if features is not None:
        features = [str(f) for f in features]
        missing = [f for f in features if f not in sample.columns]
        extra = [c for c in sample.columns if c not in features]
        if missing or extra:
            parts = ([f"the sample has no column {', '.join(map(repr, missing))}"] if missing else []) + (
                [f"the model does not take {', '.join(map(repr, extra))}"] if extra else [])
            raise RegistrationError("the sample's columns differ from the model's: " + "; ".join(parts))
        frame_input = True
    else:
        features = list(sample.columns)
        expected = getattr(estimator, "n_features_in_", None)
        if expected is not None and expected != len(features):
            raise RegistrationError(f"the model takes {expected} features, the sample has {len(features)} "
                                    f"columns ({', '.join(features)})")
        numeric = all(sample[c].dtype.kind in "iufb" for c in features)
        frame_input = not numeric  # a plain matrix model sees numbers only
    encoders = _encoders(estimator)
    fields = [infer_field(f, sample[f], encoders.get(f), margin, frame_input) for f in features]
    if not frame_input and any(f.type == "categorical" for f in fields):
        raise RegistrationError("the model takes a numeric matrix, but the sample has text columns")
    if len(sample) > MAX_SAMPLE_ROWS:
        sample = sample.sample(MAX_SAMPLE_ROWS, random_state=0).sort_index()
    sample = sample[features].reset_index(drop=True)
    rows = json_rows(sample, fields)
    complete = next((row for row in rows if all(v is not None for v in row.values())), rows[0])
    model_input = sample if frame_input else sample.to_numpy(dtype=np.float64)
    classes = [c.item() if hasattr(c, "item") else c for c in getattr(estimator, "classes_", [])] or None
    if classes is not None and not all(isinstance(c, int | str | bool) for c in classes):
        raise RegistrationError(f"class labels must be integers, strings or booleans, not {classes!r}")
    prediction = "argmax"
    if classes is not None:
        most_probable = np.asarray(estimator.predict_proba(model_input)).argmax(axis=1)
        argmax = np.asarray(estimator.classes_)[most_probable]
        if not np.array_equal(argmax, np.asarray(estimator.predict(model_input))):
            prediction = "predict"  # predict() is not the most probable class (e.g. Platt scaling)
    document = {
        "name": name, "kind": kind, "estimator": f"{type(estimator).__module__}.{type(estimator).__name__}",
        "artifact": artifact.model_dump(), "input": "frame" if frame_input else "matrix",
        "prediction": prediction, "classes": classes, "bounds_margin": margin,
        "fields": [f.model_dump(exclude_none=True) for f in fields], "rules": [], "example": complete,
    }
    if kind == "regressor":
        document.pop("classes")
        document.pop("prediction")
    schema = schema_from_document(document, f"the declaration inferred for {name!r}")
    return Inferred(schema, rows, model_input)


# ---- golden cases and the answers check ------------------------------------------------------

def _golden_indices(rows: list[dict[str, Any]], classes: list[Any] | None, predicted: list[Any]) -> list[int]:
    """Up to GOLDEN_ROWS rows: the example first, every class predicted, rows with missing values."""
    chosen: list[int] = [0]
    for label in classes or []:
        index = next((i for i, value in enumerate(predicted) if value == label and i not in chosen), None)
        if index is not None:
            chosen.append(index)
    nulls = [i for i, row in enumerate(rows) if any(v is None for v in row.values()) and i not in chosen]
    chosen += nulls[:3]
    chosen += [i for i in range(len(rows)) if i not in chosen][:max(0, GOLDEN_ROWS - len(chosen))]
    return chosen[:GOLDEN_ROWS]


def check_answers(predictor: Any, estimator: Any, inferred: Inferred) -> None:
    """Rows converted as a server converts them must get the model's own answers on the sample."""
    served = predictor.predict_rows(inferred.rows)
    X = inferred.model_input
    if served.proba is not None:
        own = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        gap = float(np.max(np.abs(own - served.proba))) if own.size else 0.0
    else:
        own = np.asarray(estimator.predict(X), dtype=np.float64).reshape(-1)
        gap = float(np.max(np.abs(own - served.classes))) if own.size else 0.0
    if not gap <= ANSWER_TOLERANCE:
        raise RegistrationError(f"the sample's rows, converted as a server converts JSON, get answers up to "
                                f"{gap:.3g} away from the model's own on the sample: the declared types or "
                                "dtypes do not match what the model was fitted on")


# ---- writing the registration ---------------------------------------------------------------

def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("scikit-learn", "numpy", "pandas", "joblib", "skops"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def add_model(name: str, artifact: Path, sample: Path, fmt: str | None = None, trust: list[str] | None = None,
              margin: float = BOUNDS_MARGIN, force: bool = False,
              root: Path | None = None) -> RegisteredModel:
    """Register the model; returns it as the servers will load it."""
    root = root or models_dir()
    if name in PROFILES:
        raise RegistrationError(f"{name!r} is one of servebench's own models ({', '.join(PROFILES)}): "
                                "choose another name")
    target = root / name
    if target.exists() and not force:
        raise RegistrationError(f"{target} exists: add --force to replace it")
    if not 0 <= margin <= 10:
        raise RegistrationError(f"--margin {margin:g}: a share of the range between 0 and 10")
    fmt = artifact_format(artifact, fmt)
    try:
        blob = artifact.read_bytes()
    except OSError as error:
        raise RegistrationError(f"{artifact}: cannot read it ({error.strerror})") from None
    trusted = sorted(set(trust or ()))
    estimator = load_estimator(blob, fmt, trusted)
    frame = read_sample(sample)
    file = f"model{'.skops' if fmt == 'skops' else '.joblib' if fmt == 'joblib' else '.pkl'}"
    declared = Artifact(file=file, format=fmt, trusted=trusted if fmt == "skops" else [])
    inferred = infer(name, estimator, frame, declared, margin)
    try:
        contract_models(inferred.schema)
    except ValueError as error:
        raise SchemaError([f"the declaration inferred for {name!r}: example: {error}"]) from None
    staging = root / f".adding-{name}-{os.getpid()}"
    work = staging / name
    shutil.rmtree(staging, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        (work / file).write_bytes(blob)
        digest = sha256_bytes(blob)
        (work / SHA256_FILE).write_text(f"{digest}  {file}\n")
        (work / SCHEMA_FILE).write_text(dump_schema(
            inferred.schema, f"inferred by `servebench model add` from {sample.name} ({len(frame)} rows); "
                             f"bounds: the sample's range widened by {margin:g} of it on each side"))
        metadata = {
            "name": name, "estimator": type(estimator).__name__, "sha256": digest, "size_bytes": len(blob),
            "format": fmt, "features": inferred.schema.field_names,
            "classes": inferred.schema.classes, "registered_unix": int(time.time()),
            "sample": {"file": sample.name, "rows": len(frame), "kept": len(inferred.rows)},
            "versions": _versions(),
        }
        (work / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
        (work / GOLDEN_FILE).write_text(json.dumps({"cases": []}))
        (work / SAMPLE_FILE).write_text(json.dumps({"rows": inferred.rows}))
        registered = user_model(work)
        from shared_model.cases import golden_cases
        from shared_model.predictor import Predictor

        predictor = Predictor.load(registered, build_if_missing=False)
        check_answers(predictor, estimator, inferred)
        answers = predictor.predict_rows(inferred.rows).classes.tolist()
        order = _golden_indices(inferred.rows, inferred.schema.classes, answers)
        golden = golden_cases(predictor, [inferred.rows[i] for i in order])
        rest = [row for i, row in enumerate(inferred.rows) if i not in set(order)]
        (work / GOLDEN_FILE).write_text(json.dumps({"cases": [
            {"request": case.request, "prediction": case.prediction, "probability": list(case.probability)}
            for case in golden]}, indent=1))
        # The golden rows first: workloads that send few distinct rows still send these.
        (work / SAMPLE_FILE).write_text(json.dumps({"rows": [case.request for case in golden] + rest}))
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return user_model(target)
