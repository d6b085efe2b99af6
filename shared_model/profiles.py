"""Model profiles: the same data and features, three inference costs.

scikit-learn is imported only when a profile is trained: load generators read the registered
models' names and declarations, and must not pull in the model's libraries.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARTIFACT_DIR = Path(os.environ.get("SERVEBENCH_ARTIFACTS", Path(__file__).parent / "artifacts"))
SEED = 20251124


@dataclass(frozen=True)
class ModelProfile:
    name: str
    description: str
    build: Callable[[], Any]  # an unfitted scikit-learn classifier

    @property
    def artifact(self) -> Path:
        return ARTIFACT_DIR / f"churn-{self.name}.pkl"

    @property
    def metadata_path(self) -> Path:
        return ARTIFACT_DIR / f"churn-{self.name}.json"


def _light() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _default() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=200, random_state=SEED)


def _heavy() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=800, max_depth=14, min_samples_leaf=10, n_jobs=-1,
                                  random_state=SEED)


PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile(
            "light",
            "standardised logistic regression (~0.1 ms a call)",
            _light,
        ),
        ModelProfile(
            "default",
            "histogram gradient boosting, 200 iterations (~0.4 ms a call)",
            _default,
        ),
        ModelProfile(
            "heavy",
            "random forest, 800 trees (tens of ms a call, like the seed's 50 ms model)",
            _heavy,
        ),
    )
}
DEFAULT_PROFILE = "default"
