from __future__ import annotations

import pytest

from shared_model.cases import GoldenCase, golden_cases
from shared_model.predictor import Predictor


@pytest.fixture(scope="session")
def predictor() -> Predictor:
    return Predictor.load()


@pytest.fixture(scope="session")
def golden(predictor: Predictor) -> list[GoldenCase]:
    return golden_cases(predictor)
