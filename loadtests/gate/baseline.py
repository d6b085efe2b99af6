"""The committed gate reference: which commit a change is judged against, and how.

It names a commit, never numbers: `servebench check` measures that commit and the working
tree on the same machine in the same run, so nothing measured elsewhere becomes the yardstick.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loadtests.gate.compare import DEFAULT_TOLERANCE, Metric
from loadtests.gate.sampler import SamplingPlan

SCHEMA = "servebench-baseline"
VERSION = 2
# Version history (a reader refuses versions it does not know):
# 1 - latency rounds measured once on one machine, judged against by every later check.
#     Refused since version 2: numbers from another machine (or another hour) are not a
#     reference; the file has to be re-created with `make baseline`.
# 2 - the base commit, the stacks, the model profile, the tolerances, the sampling plan and
#     the number of fresh server processes per side; no measurement.

DEFAULT_PATH = Path("results/baseline.json")


class BaselineError(Exception):
    """The baseline is missing or cannot be compared with; the check cannot measure."""


@dataclass(frozen=True)
class Baseline:
    commit: str  # full sha of the base commit
    stacks: tuple[str, ...]
    model: str
    tolerances: dict[Metric, float] = field(default_factory=lambda: dict(DEFAULT_TOLERANCE))
    plan: SamplingPlan = field(default_factory=SamplingPlan)
    runs: int = 8  # fresh server processes per stack and side

    def dump(self, path: Path) -> None:
        document = {"schema": SCHEMA, "version": VERSION, **asdict(self), "stacks": list(self.stacks)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=1) + "\n")


def load(path: Path) -> Baseline:
    if not path.exists():
        raise BaselineError(f"no baseline at {path}: create one with `make baseline`")
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise BaselineError(f"{path} is not a readable baseline: {error}") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise BaselineError(f"{path} is not a servebench baseline (schema {SCHEMA!r} expected)")
    version = document.get("version")
    if version != VERSION:
        newer = isinstance(version, int) and version > VERSION
        raise BaselineError(
            f"{path} has baseline version {version!r}; this servebench reads version {VERSION}"
            + (": upgrade servebench" if newer else ": re-create it with `make baseline`")
        )
    try:
        return _from_document(document)
    except (KeyError, TypeError, ValueError) as error:
        raise BaselineError(f"{path}: malformed baseline ({error})") from None


def _from_document(document: dict[str, Any]) -> Baseline:
    tolerances = {metric: float(value) for metric, value in document["tolerances"].items()}
    unknown = set(tolerances) - set(DEFAULT_TOLERANCE)
    if unknown:
        raise ValueError(f"unknown tolerance(s) {sorted(unknown)}")
    return Baseline(
        commit=str(document["commit"]),
        stacks=tuple(document["stacks"]),
        model=str(document["model"]),
        tolerances={**DEFAULT_TOLERANCE, **tolerances},
        plan=SamplingPlan(**document["plan"]),
        runs=int(document["runs"]),
    )
