"""The load generators, declared once: adding one is a module and an entry here."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from loadtests.generators.base import Generator, GeneratorRefused, GeneratorSettings, Loop
from loadtests.generators.locust import Locust
from loadtests.generators.wrk import Wrk
from loadtests.workloads import Workload

GENERATORS: Mapping[str, Generator] = MappingProxyType({g.name: g for g in (Locust(), Wrk())})


def chosen(name: str, loop: Loop, workloads: tuple[Workload, ...] = ()) -> Generator:
    """The generator of this name, if it can drive this loop and these workloads on this
    machine; GeneratorRefused with its own reason otherwise."""
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


__all__ = ["GENERATORS", "Generator", "GeneratorRefused", "GeneratorSettings", "Loop", "chosen"]
