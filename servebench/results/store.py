"""Write and read run directories. A run directory is created once and never overwritten."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from servebench.errors import UserError
from servebench.results.schema import SCHEMA_HISTORY, SCHEMA_VERSION, Record, Run


class RunWriter:
    def __init__(self, results_dir: Path, run_id: str,
                 subdirs: tuple[str, ...] = ("records", "logs", "locust")) -> None:
        self.root = results_dir / run_id
        try:
            self.root.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise UserError(f"{self.root} exists; runs are never overwritten") from None
        for sub in subdirs:
            (self.root / sub).mkdir()

    def _write(self, path: Path, data: Any) -> None:
        # Whole-file replace, so a reader never sees half a file.
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
        os.replace(temporary, path)

    def write_run(self, run: Run) -> None:
        self._write(self.root / "run.json", run.model_dump(mode="json"))

    def _write_new(self, path: Path, model: BaseModel) -> None:
        """Records are immutable: writing one twice is a bug, never an update."""
        if path.exists():
            raise FileExistsError(path)
        self._write(path, model.model_dump(mode="json"))

    def write_record(self, record: Record) -> None:
        self._write_new(self.root / "records" / f"{record.record_id}.json", record)


def read_versioned(path: Path, kind: str) -> dict[str, Any]:
    """A result file's JSON, after checking it is one and that its schema version is known."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: not a servebench {kind} ({error})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a servebench {kind} (not a JSON object)")
    check_version(data, path)
    return data


def check_version(data: dict[str, Any], path: Path) -> None:
    version = data.get("schema_version")
    if not isinstance(version, int) or version not in SCHEMA_HISTORY:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        raise UserError(
            f"{path}: result schema version {version!r} is "
            + ("newer than this servebench understands (up to "
               f"{SCHEMA_VERSION}); upgrade servebench to read it" if newer else
               f"unknown (known: {sorted(SCHEMA_HISTORY)})")
        )


@dataclass(frozen=True)
class LoadedRun:
    root: Path
    run: Run
    records: list[Record]


def load_run(root: Path) -> LoadedRun:
    """A run directory, validated against the schema; refuses unknown or newer versions."""
    run = Run.model_validate(read_versioned(root / "run.json", "run"))
    records = [Record.model_validate_json((root / "records" / f"{rid}.json").read_text())
               for outcome in run.stacks for rid in outcome.records]
    return LoadedRun(root, run, records)
