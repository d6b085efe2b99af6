"""The load generators, declared once: adding one is a module and an entry here."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from loadtests.generators.base import Generator, GeneratorRefused, GeneratorSettings, Loop
from loadtests.generators.locust import Locust
from loadtests.generators.wrk import Wrk
from loadtests.workloads import Workload

# In order of preference: the least intrusive first. wrk adds a few tens of microseconds to a
# request's latency, Locust (timing and checking every answer in Python) about a millisecond at
# one user on the machines measured here: each run measures it again (the floor, loadtests/floor.py).
GENERATORS: Mapping[str, Generator] = MappingProxyType({g.name: g for g in (Wrk(), Locust())})
AUTO = "auto"  # the least intrusive generator that can drive the workload on this machine


def chosen(name: str, loop: Loop, workloads: tuple[Workload, ...] = ()) -> Generator:
    """The generator of this name (or `auto`: the first in GENERATORS that can), if it can drive
    this loop and these workloads on this machine; GeneratorRefused with its reason otherwise."""
    if name == AUTO:
        reasons = []
        for candidate in GENERATORS:
            try:
                return chosen(candidate, loop, workloads)
            except GeneratorRefused as error:
                reasons.append(f"{candidate}: {error}")
        raise GeneratorRefused("no generator can drive this: " + "; ".join(reasons))
    if name not in GENERATORS:
        raise GeneratorRefused(f"unknown generator {name!r}; registered: {', '.join(GENERATORS)}")
    generator = GENERATORS[name]
    if loop not in generator.loops:
        raise GeneratorRefused(f"{name} cannot drive a {loop} loop (it drives: {', '.join(generator.loops)})")
    reason = generator.unavailable() or next(
        (why for w in workloads if (why := generator.unsupported(w))), None)
    if reason:
        raise GeneratorRefused(reason)
    return generator


__all__ = ["AUTO", "GENERATORS", "Generator", "GeneratorRefused", "GeneratorSettings", "Loop", "chosen"]
