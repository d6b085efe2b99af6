"""Artifact checks as the image build runs them: fingerprints verified, never retrained."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from servebench import artifacts
from shared_model.profiles import DEFAULT_PROFILE, PROFILES


def run_check(directory: Path, *names: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SERVEBENCH_ARTIFACTS": str(directory)}
    return subprocess.run([sys.executable, "-m", "servebench.artifacts", *names], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def copy_profile(directory: Path, name: str = DEFAULT_PROFILE) -> Path:
    profile = PROFILES[name]
    for path in (profile.artifact, profile.metadata_path):
        shutil.copy(path, directory / path.name)
    return directory / profile.artifact.name


def test_verify_returns_the_recorded_fingerprints() -> None:
    import json

    recorded = json.loads(PROFILES[DEFAULT_PROFILE].metadata_path.read_text())["sha256"]
    assert artifacts.verify([DEFAULT_PROFILE]) == {DEFAULT_PROFILE: recorded}


def test_a_tampered_artifact_fails_the_check(tmp_path: Path) -> None:
    artifact = copy_profile(tmp_path)
    assert run_check(tmp_path, DEFAULT_PROFILE).returncode == 0
    data = bytearray(artifact.read_bytes())
    data[-2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    result = run_check(tmp_path, DEFAULT_PROFILE)
    assert result.returncode == 1 and "does not match" in result.stderr


def test_a_missing_artifact_fails_instead_of_training(tmp_path: Path) -> None:
    result = run_check(tmp_path, DEFAULT_PROFILE)
    assert result.returncode == 1
    assert not list(tmp_path.iterdir())  # nothing trained, nothing written


def test_no_argument_checks_every_present_profile(tmp_path: Path) -> None:
    copy_profile(tmp_path)
    result = run_check(tmp_path)
    assert result.returncode == 0 and result.stdout.startswith(f"{DEFAULT_PROFILE}: sha256 ")
    assert run_check(tmp_path / "nothing-here").returncode == 1
