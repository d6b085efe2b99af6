"""The start and end of every kind of run: its header, its directory, its status.

One place builds what every result starts with (commit, machine, packages, what the registry
declared about each stack, today's definitions of flags and claims), names the run, writes the
header as the run goes and marks it complete or interrupted at the end.
"""

from __future__ import annotations

import contextlib
import json
import platform
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from loadtests.generators import GENERATORS
from servebench.results import declarations
from servebench.results.provenance import git_commit, git_dirty, machine, packages
from servebench.results.schema import SCHEMA_VERSION, Flag, RunHeader, RunKind, StackDeclaration, Target
from servebench.results.store import AnyRecord, ResultWriter, run_id
from servers.registry import STACKS, Stack

H = TypeVar("H", bound=RunHeader)

# Beside each stack's own packages: what every measurement depends on.
ENGINE_PACKAGES = ("locust", "hdrhistogram", "psutil", "numpy", "scikit-learn", "pydantic", "orjson",
                   "prometheus-client")


def _versions(stack: Stack) -> dict[str, str]:
    """The stack's packages as installed where it runs (its own environment, if it has one)."""
    if stack.python == sys.executable:
        return packages(stack.packages)
    script = ("import json, sys\nfrom importlib.metadata import version, PackageNotFoundError\n"
              "found = {}\nfor n in sys.argv[1:]:\n    try: found[n] = version(n)\n"
              "    except PackageNotFoundError: pass\nprint(json.dumps(found))")
    try:
        done = subprocess.run([stack.python, "-c", script, *stack.packages], capture_output=True,
                              text=True, timeout=60, check=True)
        return dict(json.loads(done.stdout))
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}


def declaration(stack: Stack) -> StackDeclaration:
    index = list(STACKS).index(stack.name) if stack.name in STACKS else len(STACKS)
    return StackDeclaration(
        title=stack.title, role=stack.role, tags=list(stack.tags), protocol=stack.protocol.name,
        colour=declarations.colour(index), packages=_versions(stack),
        targets=[Target(name=t.name, metric=t.metric, users=list(t.users) if t.users else None,
                        against=t.against, limit=t.limit, at_most=t.at_most, detail=t.detail)
                 for t in stack.targets])


def header_fields(kind: RunKind, stacks: Sequence[Stack], flags: dict[str, Flag],
                  generators: Sequence[str] = (), estimate_s: float | None = None) -> dict[str, Any]:
    """What every header starts with; the caller adds its kind's own fields."""
    started = datetime.now(UTC)
    commit = git_commit()
    names = [*ENGINE_PACKAGES, *(p for s in stacks if s.python == sys.executable for p in s.packages)]
    return {
        "schema_version": SCHEMA_VERSION, "kind": kind, "run_id": run_id(kind, commit, started),
        "status": "running", "started_at": started.isoformat(), "finished_at": None, "wall_time_s": None,
        "estimate_s": estimate_s, "git_commit": commit, "git_dirty": git_dirty(), "machine": machine(),
        "python": platform.python_version(), "packages": packages(names),
        "stacks_declared": {s.name: declaration(s) for s in stacks},
        "judging": declarations.judging(flags),
        "generators": {name: GENERATORS[name].description for name in generators},
    }


class Recorder(Generic[H]):
    """A result directory as its run fills it: the header replaced as it changes, records once."""

    def __init__(self, results_dir: Path, header: H, subdirs: tuple[str, ...] = ("records", "logs")) -> None:
        self.writer = ResultWriter(results_dir, header.run_id, subdirs)
        self.header = header
        self.writer.write_header(header)

    @property
    def root(self) -> Path:
        return self.writer.root

    def update(self, **changes: Any) -> None:
        self.header = self.header.model_copy(update=changes)
        self.writer.write_header(self.header)

    def record(self, record: AnyRecord) -> None:
        self.writer.write_record(record)

    @contextlib.contextmanager
    def running(self) -> Iterator[Recorder[H]]:
        """Complete when the body ends, interrupted when it raises; the finish time either way."""
        status = "interrupted"
        try:
            yield self
            status = "complete"
        finally:
            finished = datetime.now(UTC)
            started = datetime.fromisoformat(self.header.started_at)
            self.update(status=status, finished_at=finished.isoformat(),
                        wall_time_s=(finished - started).total_seconds())
