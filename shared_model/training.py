"""Train a model profile and write its artifact plus a metadata JSON.

    python -m shared_model.training [--profile NAME | --all] [--force]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import pickle
import platform
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

from shared_model.data import make_churn_data
from shared_model.features import COLUMNS, FEATURES, to_matrix
from shared_model.profiles import ARTIFACT_DIR, PROFILES, SEED, ModelProfile

N_ROWS = 20_000


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def train(profile: ModelProfile) -> dict[str, Any]:
    frame, label = make_churn_data(N_ROWS, seed=SEED)
    X = to_matrix(frame.to_dict("records"))
    X_train, X_test, y_train, y_test = train_test_split(
        X, label, test_size=0.25, random_state=SEED, stratify=label
    )
    model = profile.build()
    started = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    if hasattr(model, "n_jobs"):
        model.n_jobs = 1  # serving threads are a knob of the stack, not of the artifact
    proba = model.predict_proba(X_test)[:, 1]

    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    metadata = {
        "profile": profile.name,
        "description": profile.description,
        "estimator": type(model).__name__,
        "sha256": sha256_bytes(blob),
        "size_bytes": len(blob),
        "features": list(FEATURES),
        "columns": list(COLUMNS),
        "classes": [int(c) for c in model.classes_],
        "training": {
            "rows": N_ROWS,
            "seed": SEED,
            "test_fraction": 0.25,
            "positive_rate": float(np.mean(label)),
            "fit_seconds": round(fit_seconds, 3),
        },
        "metrics": {
            "roc_auc": float(roc_auc_score(y_test, proba)),
            "accuracy": float(accuracy_score(y_test, proba >= 0.5)),
        },
        "versions": {
            "python": platform.python_version(),
            **{lib: version(lib) for lib in ("scikit-learn", "numpy", "pandas")},
        },
        "created_unix": int(time.time()),
    }
    ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    _atomic_write(profile.artifact, blob)
    _atomic_write(profile.metadata_path, json.dumps(metadata, indent=2).encode())
    return metadata


def ensure_trained(profile: ModelProfile, force: bool = False) -> dict[str, Any]:
    """Train once, even when several server workers start at the same time."""
    if not force and profile.artifact.exists() and profile.metadata_path.exists():
        # Already trained: no lock file to create, so a read-only artifact dir (a container) works.
        return dict(json.loads(profile.metadata_path.read_text()))
    ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACT_DIR / f".{profile.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and profile.artifact.exists() and profile.metadata_path.exists():
            return dict(json.loads(profile.metadata_path.read_text()))
        return train(profile)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--profile", choices=sorted(PROFILES), default="default")
    group.add_argument("--all", action="store_true", help="every profile")
    parser.add_argument("--force", action="store_true", help="retrain even if present")
    args = parser.parse_args(argv)
    names = list(PROFILES) if args.all else [args.profile]
    for name in names:
        meta = ensure_trained(PROFILES[name], force=args.force)
        print(
            f"{name:8s} {meta['estimator']:32s} roc_auc={meta['metrics']['roc_auc']:.4f} "
            f"sha256={meta['sha256'][:12]} -> {PROFILES[name].artifact}"
        )


if __name__ == "__main__":
    main()
