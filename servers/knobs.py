"""Knob values as text: parsed from NAME=VALUE flags, or carried in SERVEBENCH_KNOB_<NAME>
environment variables (how containers set them); the registry declares which knobs exist."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from servers.registry import Stack

KNOB_ENV_PREFIX = "SERVEBENCH_KNOB_"


def parse_knobs(pairs: list[str]) -> dict[str, Any]:
    knobs: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise ValueError(f"--knob takes NAME=VALUE, got {pair!r}")
        try:
            knobs[name] = int(raw)
        except ValueError:
            try:
                knobs[name] = float(raw)
            except ValueError:
                knobs[name] = raw
    return knobs


def knob_env_name(knob: str) -> str:
    return KNOB_ENV_PREFIX + knob.upper()


def env_knobs(stack: Stack, environ: Mapping[str, str]) -> dict[str, Any]:
    """Knobs set as SERVEBENCH_KNOB_<NAME> (how containers carry them); --knob still wins."""
    return parse_knobs(
        [f"{knob}={environ[knob_env_name(knob)]}" for knob in stack.knobs if knob_env_name(knob) in environ]
    )


def stack_variant(spec: str, stacks: Mapping[str, Stack]) -> Stack:
    """A stack named on the command line, as registered (`name`) or with knobs overridden
    (`name:knob=value,knob=value`), to compare configurations of one stack in one run."""
    name, _, overrides = spec.partition(":")
    if name not in stacks:
        raise ValueError(f"unknown stack {name!r}; registered: {', '.join(stacks)}")
    return stacks[name].with_knobs(**parse_knobs(overrides.split(","))) if overrides else stacks[name]
