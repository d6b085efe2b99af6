from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from servers import netns
from servers.process import ServerProcess
from servers.registry import STACKS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `server` runs against every registered stack (a module that pairs the
    stacks with something else, bad cases for one, parametrizes `server` itself)."""
    if "server" in metafunc.fixturenames and "case" not in metafunc.fixturenames:
        metafunc.parametrize("server", list(STACKS), indirect=True, scope="module")


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """The stack named by the parameter, started once per test module as a real process (with
    the environment the module's SERVER_ENV adds, if it has one)."""
    env = getattr(request.module, "SERVER_ENV", None)
    with ServerProcess(STACKS[request.param], env=env) as running:
        yield running


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10.0) as http:
        yield http


@pytest.fixture
def root_and_ip() -> None:
    """Network namespaces can be made here (root and iproute2): the tests that need them fail
    with the reason otherwise, never skip."""
    try:
        netns.check_available()
    except netns.NetnsUnavailable as reason:
        pytest.fail(f"this test needs network namespaces: {reason}")
