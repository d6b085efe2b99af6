"""The container probe: the contract's readiness path by default, failure when nothing answers."""

from __future__ import annotations

from servebench import probe
from servers.process import free_port
from servers.registry import PATHS


def test_default_path_is_the_contract_readiness_path() -> None:
    assert PATHS["ready"] == probe.READY_PATH


def test_probe_fails_when_nothing_listens() -> None:
    assert probe.main(["--port", str(free_port()), "--timeout", "1"]) == 1
