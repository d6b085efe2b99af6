"""The committed latency baseline: a versioned file of paired-latency rounds per stack."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from servebench.regression.sampler import Rounds, SamplingPlan

SCHEMA = "servebench-baseline"
VERSION = 1
# Version history (a reader refuses versions it does not know):
# 1 - per stack: several independent runs (the stack restarted for each), each a list of
#     rounds of paired predict / health latencies in microseconds, and the server's /info;
#     plus the sampling plan, model profile, pinning, machine and commit.

DEFAULT_PATH = Path("results/baseline.json")


class BaselineError(Exception):
    """The baseline is missing or cannot be compared with; the check cannot measure."""


def dump(
    path: Path,
    plan: SamplingPlan,
    model: str,
    stacks: dict[str, tuple[list[Rounds], dict[str, Any]]],
    provenance: dict[str, Any],
) -> None:
    document = {
        "schema": SCHEMA,
        "version": VERSION,
        "plan": asdict(plan),
        "model": model,
        **provenance,
        "stacks": {
            name: {
                "info": info,
                "runs": [{"predict_us": r.predict_us, "health_us": r.health_us} for r in runs],
            }
            for name, (runs, info) in stacks.items()
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, separators=(",", ":")) + "\n")


def load(path: Path) -> dict[str, Any]:
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
    return document


def plan_of(document: dict[str, Any]) -> SamplingPlan:
    return SamplingPlan(**document["plan"])


def runs_of(document: dict[str, Any], stack: str) -> list[Rounds]:
    try:
        runs = document["stacks"][stack]["runs"]
    except KeyError:
        raise BaselineError(f"the baseline has no measurement of {stack!r}") from None
    return [Rounds(run["predict_us"], run["health_us"]) for run in runs]
