from __future__ import annotations

import json
import re

import pytest

from servers.registry import BLAS_ENV, PATHS, STACKS, Deviation, get_stack
from shared_model.cases import BAD


def test_names_and_ports_are_unique() -> None:
    assert len({s.default_port for s in STACKS.values()}) == len(STACKS)
    assert all(name == stack.name for name, stack in STACKS.items())


@pytest.mark.parametrize("name", list(STACKS))
def test_command_templates_are_complete(name: str) -> None:
    stack = STACKS[name]
    command = stack.command("127.0.0.1", 9999)
    assert not [part for part in command if re.search(r"\{\w+\}", part)]
    assert "9999" in " ".join(command)
    # The contract's paths, or a native protocol of the stack's own, declared as such.
    assert stack.paths == PATHS or (stack.protocol.name != "contract" and stack.deviations)
    assert set(stack.paths) == set(PATHS)


@pytest.mark.parametrize("name", list(STACKS))
def test_threads_are_knobs_carried_into_the_environment(name: str) -> None:
    stack = STACKS[name]
    assert {"workers", "blas_threads"} <= set(stack.knobs)
    env = stack.env()
    assert all(env[var] == str(stack.knobs["blas_threads"]) for var in BLAS_ENV)
    assert json.loads(env["SERVEBENCH_KNOBS"]) == dict(stack.knobs)


def test_knob_overrides_are_checked() -> None:
    stack = get_stack("fastapi_batcher").with_knobs(max_wait_ms=0.5)
    assert stack.knobs["max_wait_ms"] == 0.5
    assert "0.5" in stack.env()["SERVEBENCH_KNOBS"]
    with pytest.raises(ValueError, match="no knob"):
        stack.with_knobs(turbo=True)
    with pytest.raises(KeyError, match="unknown stack"):
        get_stack("nope")


def test_declared_deviations_change_the_expected_answer() -> None:
    stack = get_stack("fastapi_inline")
    case = next(c for c in BAD if c.group == "schema")
    assert stack.expected_bad(case) == (422, True)
    deviant = stack.__class__(
        **{**stack.__dict__, "deviations": (Deviation("400 for schema errors", ("schema",), 400),)}
    )
    assert deviant.expected_bad(case) == (400, True)
    assert deviant.deviation_for("syntax") is None
