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
    """Mark each test by its directory: tests/unit is `unit`, tests/integration `integration`.

    Then put the `long` modules first: xdist hands whole modules to its workers in collection
    order (the Makefile's --dist loadscope --no-loadscope-reorder), and a module of a few long
    tests handed out last leaves one worker running it alone while the other has finished."""
    for item in items:
        kind = item.path.parent.name if item.path.parent.name in ("unit", "integration") else (
            "unit" if "unit" in item.path.parts else "integration")
        item.add_marker(getattr(pytest.mark, kind))
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable: else as collected
