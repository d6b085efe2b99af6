"""Model profiles: the same data and features, three inference costs."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ARTIFACT_DIR = Path(os.environ.get("SERVEBENCH_ARTIFACTS", Path(__file__).parent / "artifacts"))
SEED = 20251124


@dataclass(frozen=True)
class ModelProfile:
    name: str
    description: str
    build: Callable[[], ClassifierMixin]

    @property
    def artifact(self) -> Path:
        return ARTIFACT_DIR / f"churn-{self.name}.pkl"

    @property
    def metadata_path(self) -> Path:
        return ARTIFACT_DIR / f"churn-{self.name}.json"


PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile(
            "light",
            "standardised logistic regression (~0.1 ms a call)",
            lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        ),
        ModelProfile(
            "default",
            "histogram gradient boosting, 200 iterations (~0.4 ms a call)",
            lambda: HistGradientBoostingClassifier(max_iter=200, random_state=SEED),
        ),
        ModelProfile(
            "heavy",
            "random forest, 800 trees (tens of ms a call, like the seed's 50 ms model)",
            lambda: RandomForestClassifier(
                n_estimators=800, max_depth=14, min_samples_leaf=10, n_jobs=-1, random_state=SEED
            ),
        ),
    )
}
DEFAULT_PROFILE = "default"


def profile_from_env() -> ModelProfile:
    name = os.environ.get("SERVEBENCH_MODEL", DEFAULT_PROFILE)
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"SERVEBENCH_MODEL={name!r}: choose one of {sorted(PROFILES)}") from None
