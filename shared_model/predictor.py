"""The predictor: one vectorised primitive, a fingerprint-checked artifact."""

from __future__ import annotations

import json
import os
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared_model.features import COLUMNS, to_matrix
from shared_model.profiles import ModelProfile, profile_from_env
from shared_model.training import ensure_trained, sha256_bytes


class ArtifactError(RuntimeError):
    """The model artifact is missing, unreadable or does not match its metadata."""


@dataclass(frozen=True)
class Predictions:
    classes: np.ndarray  # (n,) int
    proba: np.ndarray  # (n, 2) float: [no_churn, churn]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [
            {"prediction": c, "probability": {"no_churn": p0, "churn": p1}}
            for c, (p0, p1) in zip(self.classes.tolist(), self.proba.tolist(), strict=True)
        ]


def _slowdown_us() -> float:
    """Injected CPU cost per row, for testing regression checks. Off unless set."""
    return float(os.environ.get("SERVEBENCH_SLOWDOWN_US", "0") or 0)


class Predictor:
    def __init__(self, model: Any, metadata: dict[str, Any]) -> None:
        self._model = model
        self.metadata = metadata
        self.fingerprint: str = metadata["sha256"]
        self.version: str = self.fingerprint[:12]
        self.profile: str = metadata["profile"]
        self.slowdown_us = _slowdown_us()

    @classmethod
    def load(
        cls,
        profile: ModelProfile | None = None,
        build_if_missing: bool = True,
        loads: Callable[[bytes], Any] = pickle.loads,
    ) -> Predictor:
        """The profile's artifact, refused unless its bytes match the metadata's sha256.

        `loads` unpickles those bytes (another environment may need a compatible unpickler,
        see servers/numpy_compat.py).
        """
        profile = profile or profile_from_env()
        if build_if_missing:
            ensure_trained(profile)
        try:
            metadata = json.loads(profile.metadata_path.read_text())
            blob = profile.artifact.read_bytes()
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"cannot read model profile {profile.name!r}: {exc}") from exc
        digest = sha256_bytes(blob)
        if digest != metadata.get("sha256"):
            raise ArtifactError(
                f"refusing to load {profile.artifact}: sha256 {digest[:12]}… does not match "
                f"its metadata ({str(metadata.get('sha256'))[:12]}…); rebuild with `make model`"
            )
        if metadata.get("columns") != list(COLUMNS):
            raise ArtifactError(f"{profile.artifact} was trained on other columns; rebuild it")
        # Unpickle the very bytes that were hashed, never a second read of the file.
        return cls(loads(blob), metadata)

    def predict_batch(self, X: np.ndarray) -> Predictions:
        """The only primitive: one model call for the whole matrix."""
        proba = self._model.predict_proba(X)
        if self.slowdown_us:
            _busy_wait(self.slowdown_us * len(X) / 1e6)
        return Predictions(classes=proba.argmax(axis=1), proba=proba)

    def predict_rows(self, rows: Sequence[Any]) -> Predictions:
        return self.predict_batch(to_matrix(rows))


def _busy_wait(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
