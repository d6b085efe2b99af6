"""Knobs from SERVEBENCH_KNOB_* (how containers carry them); --knob on the command line wins."""

from __future__ import annotations

import pytest

from servers.knobs import env_knobs, knob_env_name
from servers.registry import STACKS


@pytest.mark.parametrize("name", sorted(STACKS))
def test_every_knob_round_trips_through_its_variable(name: str) -> None:
    stack = STACKS[name]
    environ = {knob_env_name(knob): str(value) for knob, value in stack.knobs.items()}
    environ["SERVEBENCH_KNOB_NOT_A_KNOB"] = "1"  # ignored: not declared by the stack
    assert env_knobs(stack, environ) == dict(stack.knobs)


def test_unset_variables_leave_the_declared_defaults() -> None:
    stack = next(iter(STACKS.values()))
    assert env_knobs(stack, {}) == {}
    assert stack.with_knobs(**env_knobs(stack, {})).knobs == stack.knobs
