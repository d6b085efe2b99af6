"""Check model artifacts against their recorded fingerprints without ever training.

    python -m servebench.artifacts [PROFILE ...]    # default: every profile present

The image build runs this after training and again in the final stage, so an image never
ships an artifact whose bytes differ from the sha256 in its metadata.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from shared_model.predictor import ArtifactError, Predictor
from shared_model.profiles import ARTIFACT_DIR, PROFILES


def present() -> list[str]:
    return [name for name, profile in PROFILES.items() if profile.artifact.exists()]


def verify(names: Sequence[str]) -> dict[str, str]:
    """sha256 by profile; raises ArtifactError on a missing or mismatching artifact."""
    fingerprints = {}
    for name in names:
        if name not in PROFILES:
            raise ArtifactError(f"unknown model profile {name!r}; choose from {sorted(PROFILES)}")
        predictor = Predictor.load(PROFILES[name], build_if_missing=False)
        fingerprints[name] = predictor.fingerprint
    return fingerprints


def main(argv: Sequence[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv) or present()
    if not names:
        print(f"no model artifact in {ARTIFACT_DIR}", file=sys.stderr)
        return 1
    try:
        fingerprints = verify(names)
    except ArtifactError as error:
        print(f"artifact check failed: {error}", file=sys.stderr)
        return 1
    for name, sha in fingerprints.items():
        print(f"{name}: sha256 {sha} verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
