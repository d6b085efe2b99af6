"""The predictor: one vectorised primitive, a fingerprint-checked artifact, any declared model."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared_model.convert import Converter, matrix_columns
from shared_model.loading import load_bytes
from shared_model.model_schema import ModelSchema
from shared_model.models import RegisteredModel, churn_model, model_from_env
from shared_model.profiles import ModelProfile
from shared_model.training import ensure_trained, sha256_bytes


class ArtifactError(RuntimeError):
    """The model artifact is missing, unreadable or does not match its registered sha256."""


@dataclass(frozen=True)
class Predictions:
    """The answers of one model call, row by row.

    `classes`: each row's prediction, its class label (classifiers) or its value (regressors);
    `proba`: (n, classes) probabilities in the estimator's class order, None for a regressor;
    `names`: the keys of each answer's `probability`, in that order."""

    classes: np.ndarray
    proba: np.ndarray | None = None
    names: tuple[str, ...] = ("no_churn", "churn")

    def __len__(self) -> int:
        return len(self.classes)

    def part(self, start: int, end: int) -> Predictions:
        """Rows start..end of these answers (one caller's share of a batch)."""
        proba = self.proba[start:end] if self.proba is not None else None
        return Predictions(self.classes[start:end], proba, self.names)

    def as_dicts(self) -> list[dict[str, Any]]:
        values = self.classes.tolist()
        if self.proba is None:
            return [{"prediction": value} for value in values]
        names = self.names
        return [{"prediction": value, "probability": dict(zip(names, row, strict=True))}
                for value, row in zip(values, self.proba.tolist(), strict=True)]

    @classmethod
    def from_array(cls, array: np.ndarray, schema: ModelSchema) -> Predictions:
        """The inverse of `Predictor.to_array` for the declaration's model."""
        if schema.kind == "regressor":
            return cls(array[:, 0], None, ())
        classes = np.asarray(schema.classes)
        return cls(classes[array[:, 0].astype(np.int64)], array[:, 1:], tuple(schema.labels))


def _slowdown_us() -> float:
    """Injected CPU cost per row, for testing regression checks. Off unless set."""
    return float(os.environ.get("SERVEBENCH_SLOWDOWN_US", "0") or 0)


def _as_registered(model: RegisteredModel | ModelProfile | None) -> RegisteredModel:
    if model is None:
        return model_from_env()
    if isinstance(model, RegisteredModel):
        return model
    return churn_model(model)


class Predictor:
    """A loaded model: `predict_batch(input)` is its only call, `predict_rows` converts first."""

    def __init__(self, model: Any, metadata: dict[str, Any],
                 registered: RegisteredModel | None = None) -> None:
        self._model = model
        self.metadata = metadata
        self.fingerprint: str = metadata["sha256"]
        self.version: str = self.fingerprint[:12]
        self.profile: str = metadata["profile"]
        self.registered = registered or model_from_env()
        self.schema = self.registered.schema
        self.converter = Converter(self.schema)
        self.names = tuple(self.schema.labels)
        self._classes = np.asarray(self.schema.classes) if self.schema.classes is not None else None
        self.slowdown_us = _slowdown_us()

    @classmethod
    def load(
        cls,
        model: RegisteredModel | ModelProfile | None = None,
        build_if_missing: bool = True,
        loads: Callable[[bytes], Any] | None = None,
        artifact: Any = None,
    ) -> Predictor:
        """The registered model, refused unless its artifact's bytes match the registered sha256.

        `artifact`: a copy of the artifact a framework keeps with its model (an MLflow model's
        artifacts, a TorchServe archive), checked against the same sha256; `loads`: an
        unpickler for pickle artifacts (the default handles numpy 1.x, see loading.py).
        """
        registered = _as_registered(model)
        if build_if_missing and registered.profile is not None:
            ensure_trained(registered.profile)
        path = artifact or registered.artifact
        try:
            expected = registered.expected_sha256()
            metadata = registered.metadata()
            blob = path.read_bytes()
        except (OSError, ValueError, KeyError) as exc:
            raise ArtifactError(f"cannot read model {registered.name!r}: {exc}") from exc
        digest = sha256_bytes(blob)
        if digest != expected:
            rebuild = "rebuild with `make model`" if registered.builtin else (
                f"register it again with `servebench model add {registered.name} --force ...`")
            raise ArtifactError(
                f"refusing to load {path}: sha256 {digest[:12]}… does not match "
                f"its metadata ({expected[:12]}…); {rebuild}"
            )
        if registered.builtin and metadata.get("columns") != matrix_columns(registered.schema):
            raise ArtifactError(f"{path} was trained on other columns; rebuild it")
        fmt = registered.schema.artifact.format
        # Load the very bytes that were hashed, never a second read of the file.
        try:
            estimator = loads(blob) if loads is not None and fmt == "pickle" else load_bytes(
                blob, fmt, registered.schema.artifact.trusted)
        except Exception as exc:
            raise ArtifactError(f"cannot load {path} ({fmt}): {type(exc).__name__}: {exc}") from exc
        return cls(estimator, {**metadata, "sha256": digest}, registered)

    def predict_batch(self, X: Any) -> Predictions:
        """The only primitive: one model call for the whole input (matrix or frame)."""
        model = self._model
        if self._classes is None:
            values = np.asarray(model.predict(X), dtype=np.float64).reshape(-1)
            result = Predictions(values, None, ())
        else:
            proba = np.asarray(model.predict_proba(X), dtype=np.float64)
            if self.schema.prediction == "predict":
                classes = np.asarray(model.predict(X))
            else:
                classes = self._classes[proba.argmax(axis=1)]
            result = Predictions(classes, proba, self.names)
        if self.slowdown_us:
            _busy_wait(self.slowdown_us * len(result) / 1e6)
        return result

    def to_input(self, rows: Sequence[Any]) -> Any:
        return self.converter.rows_input(rows)

    def predict_rows(self, rows: Sequence[Any]) -> Predictions:
        return self.predict_batch(self.to_input(rows))

    def to_array(self, result: Predictions) -> np.ndarray:
        """Answers as one float64 array, for frameworks that pass arrays between processes: each
        row's class index then its probabilities (classifiers), or its value (regressors);
        Predictions.from_array reads it back."""
        if result.proba is None:
            return result.classes.astype(np.float64).reshape(-1, 1)
        assert self._classes is not None
        index = {value: i for i, value in enumerate(self._classes.tolist())}
        positions = np.fromiter((index[c] for c in result.classes.tolist()), dtype=np.float64,
                                count=len(result))
        return np.column_stack([positions, result.proba])


def _busy_wait(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
