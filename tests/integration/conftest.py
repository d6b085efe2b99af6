from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from servers.process import ServerProcess
from servers.registry import STACKS


@pytest.fixture(scope="module", params=list(STACKS))
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """Each registered stack, started once per test module as a real process."""
    with ServerProcess(STACKS[request.param]) as running:
        yield running


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10.0) as http:
        yield http
