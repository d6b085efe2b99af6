"""Three models nobody wrote a declaration for, trained here from data scikit-learn ships or
generates (no download), each with a sample of its inputs, registered with `servebench model add`.

    iris      a multiclass classifier with string labels, fitted on a bare matrix (no feature
              names): matrix input; joblib
    diabetes  a regressor fitted on a DataFrame of numbers; pickle
    loans     a Pipeline (imputers, scaler, one-hot encoder, logistic regression) whose inputs
              hold integers, numbers, booleans, string categoricals and missing values; skops
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

NAMES = ("iris", "diabetes", "loans")


@dataclass(frozen=True)
class Trained:
    name: str
    artifact: Path
    sample: Path
    trust: tuple[str, ...] = ()


def _iris(directory: Path) -> Trained:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    data = load_iris(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in frame.columns]
    labels = np.asarray(data.target_names)[data.target]
    model = RandomForestClassifier(n_estimators=25, max_depth=4, random_state=0).fit(frame.to_numpy(), labels)
    artifact = directory / "iris.joblib"
    joblib.dump(model, artifact)
    sample = directory / "iris.csv"
    frame.sample(60, random_state=1).to_csv(sample, index=False)
    return Trained("iris", artifact, sample)


def _diabetes(directory: Path) -> Trained:
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    data = load_diabetes(as_frame=True)
    frame = data.frame.drop(columns="target")
    model = GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0).fit(frame, data.target)
    artifact = directory / "diabetes.pkl"
    artifact.write_bytes(pickle.dumps(model))
    sample = directory / "diabetes.jsonl"
    frame.sample(80, random_state=2).to_json(sample, orient="records", lines=True)
    return Trained("diabetes", artifact, sample)


def loans_frame(rows: int = 600, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, rows),
        "income": rng.gamma(3.0, 15_000, rows).round(2),
        "region": rng.choice(["north", "south", "east", "west"], rows).astype(object),
        "plan": rng.choice(["basic", "plus", "pro"], rows, p=[0.5, 0.3, 0.2]),
        "active": rng.random(rows) < 0.7,
    })
    frame.loc[rng.random(rows) < 0.15, "income"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "region"] = np.nan
    logit = (0.03 * (frame["age"] - 45) + (frame["plan"] == "pro") * 1.2 - (~frame["active"]) * 0.8
             + frame["income"].fillna(40_000) / 60_000 - (frame["region"] == "south") * 0.5)
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return frame, label


def _loans(directory: Path) -> Trained:
    import skops.io
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, label = loans_frame()
    prepare = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["age", "income"]),
        ("categories", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                     OneHotEncoder(handle_unknown="ignore")), ["region", "plan"]),
        ("flags", "passthrough", ["active"]),
    ])
    model = Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=500))]).fit(frame, label)
    blob = skops.io.dumps(model)
    artifact = directory / "loans.skops"
    artifact.write_bytes(blob)
    sample = directory / "loans.csv"
    frame.sample(120, random_state=4).to_csv(sample, index=False)
    return Trained("loans", artifact, sample, tuple(skops.io.get_untrusted_types(data=blob)))


TRAIN = {"iris": _iris, "diabetes": _diabetes, "loans": _loans}


def train(name: str, directory: Path) -> Trained:
    directory.mkdir(parents=True, exist_ok=True)
    return TRAIN[name](directory)


def add(trained: Trained, models_dir: Path) -> subprocess.CompletedProcess[str]:
    """`servebench model add` for a trained model, as a user runs it."""
    command = [sys.executable, "-m", "servebench.cli", "model", "add", trained.name,
               "--artifact", str(trained.artifact), "--sample", str(trained.sample)]
    for name in trained.trust:
        command += ["--trust", name]
    env = {**__import__("os").environ, "SERVEBENCH_MODELS_DIR": str(models_dir)}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
