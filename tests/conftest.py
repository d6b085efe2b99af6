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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its directory: tests/unit is `unit`, tests/integration `integration`."""
    for item in items:
        kind = item.path.parent.name if item.path.parent.name in ("unit", "integration") else (
            "unit" if "unit" in item.path.parts else "integration")
        item.add_marker(getattr(pytest.mark, kind))
