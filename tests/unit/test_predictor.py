from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from shared_model.cases import GOLDEN_REQUESTS
from shared_model.features import to_matrix
from shared_model.predictor import ArtifactError, Predictor
from shared_model.profiles import PROFILES, ModelProfile


def test_single_is_a_batch_of_one(predictor: Predictor) -> None:
    X = to_matrix(GOLDEN_REQUESTS)
    batch = predictor.predict_batch(X)
    for i in range(len(X)):
        one = predictor.predict_batch(X[i : i + 1])
        assert one.classes[0] == batch.classes[i]
        np.testing.assert_allclose(one.proba[0], batch.proba[i], atol=1e-12)
    assert batch.proba.shape == (len(X), 2)
    np.testing.assert_allclose(batch.proba.sum(axis=1), 1.0)
    assert set(batch.classes.tolist()) <= {0, 1}


def test_classes_follow_the_probabilities(predictor: Predictor) -> None:
    result = predictor.predict_rows(GOLDEN_REQUESTS)
    assert (result.classes == (result.proba[:, 1] > result.proba[:, 0])).all()


def _copy_profile(tmp_path: Path) -> ModelProfile:
    import shared_model.profiles as profiles

    source = PROFILES["light"]
    for path in (source.artifact, source.metadata_path):
        shutil.copy(path, tmp_path / path.name)
    copy = ModelProfile(source.name, source.description, source.build)
    return copy, profiles


def test_a_modified_artifact_is_refused_before_unpickling(tmp_path: Path, monkeypatch) -> None:
    copy, profiles = _copy_profile(tmp_path)
    monkeypatch.setattr(profiles, "ARTIFACT_DIR", tmp_path)
    artifact = tmp_path / copy.artifact.name
    assert copy.artifact == artifact
    Predictor.load(copy, build_if_missing=False)
    artifact.write_bytes(artifact.read_bytes() + b"\x00")
    with pytest.raises(ArtifactError, match="does not match its metadata"):
        Predictor.load(copy, build_if_missing=False)


def test_metadata_describes_the_training(predictor: Predictor) -> None:
    meta = predictor.metadata
    assert len(meta["sha256"]) == 64
    assert meta["metrics"]["roc_auc"] > 0.7
    assert {"scikit-learn", "numpy"} <= set(meta["versions"])


def test_tree_models_beat_the_linear_one_on_held_out_data() -> None:
    # The synthetic label has non-linear structure, so model choice must matter.
    auc = {name: Predictor.load(p).metadata["metrics"]["roc_auc"] for name, p in PROFILES.items()}
    assert auc["default"] > auc["light"] + 0.02


def test_injected_slowdown_is_off_by_default_and_visible(monkeypatch) -> None:
    assert Predictor.load().slowdown_us == 0
    monkeypatch.setenv("SERVEBENCH_SLOWDOWN_US", "50")
    assert Predictor.load().slowdown_us == 50
