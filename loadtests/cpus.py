"""Which CPUs the server and the load generator get, and keeping this process on the latter."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

Cpus = tuple[int, ...]


class CpuError(ValueError):
    """A CPU list that cannot be used as given."""


@dataclass(frozen=True)
class Pinning:
    """Server CPUs and load CPUs; None on a side means unpinned (a single-CPU machine)."""

    server: Cpus | None
    load: Cpus | None

    @classmethod
    def default(cls) -> Pinning:
        """Server on the last usable CPU, load on the others; no pinning on a single CPU."""
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return cls(None, None)
        return cls((cpus[-1],), tuple(cpus[:-1]))

    @classmethod
    def from_flags(cls, server: str | None, load: str | None) -> Pinning:
        """The default, with either side replaced by a comma-separated CPU list."""
        default = cls.default()
        pinning = cls(parse(server) or default.server, parse(load) or default.load)
        if pinning.server and pinning.load and set(pinning.server) & set(pinning.load):
            raise CpuError(f"server CPUs {pinning.server} and load CPUs {pinning.load} overlap")
        return pinning

    def as_lists(self) -> tuple[list[int] | None, list[int] | None]:
        return (list(self.server) if self.server else None, list(self.load) if self.load else None)


def parse(text: str | None) -> Cpus | None:
    if not text:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise CpuError(f"CPU lists are comma-separated numbers, got {text!r}") from None


@contextlib.contextmanager
def kept_on(cpus: Cpus | None) -> Iterator[None]:
    """Run this process (and what it starts) on these CPUs, off the server's; restore after."""
    affinity = os.sched_getaffinity(0)
    try:
        if cpus:
            os.sched_setaffinity(0, cpus)
        yield
    finally:
        os.sched_setaffinity(0, affinity)
