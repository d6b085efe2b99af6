"""Write and read result directories of every kind: one writer, one loader.

A result directory is created once and never overwritten; its header (<kind>.json) is replaced
whole as the run goes, its records are written once each.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ValidationError

from servebench.errors import UserError
from servebench.results import migrations
from servebench.results.capacity import CapacityRecord, CapacityRun
from servebench.results.kinds import CheckRecord, CheckRun, RobustnessRecord, RobustnessRun
from servebench.results.schema import SCHEMA_HISTORY, SCHEMA_VERSION, Record, Run, RunHeader, RunKind
from servebench.results.soak_schema import SoakRecord, SoakRun

H = TypeVar("H", bound=RunHeader)
R = TypeVar("R", bound=BaseModel)

AnyRecord = Record | CapacityRecord | SoakRecord | RobustnessRecord | CheckRecord
# kind -> (header model, record model)
MODELS: dict[str, tuple[type[RunHeader], type[BaseModel]]] = {
    "run": (Run, Record),
    "capacity": (CapacityRun, CapacityRecord),
    "soak": (SoakRun, SoakRecord),
    "robustness": (RobustnessRun, RobustnessRecord),
    "check": (CheckRun, CheckRecord),
}


def header_file(kind: str) -> str:
    return f"{kind}.json"


def run_id(kind: RunKind, commit: str | None, now: datetime) -> str:
    """<UTC time>-<commit>-<kind>: sorts by start time, says what made it and what it is."""
    return "-".join(part for part in (now.strftime("%Y%m%dT%H%M%SZ"), commit, kind) if part)


class ResultWriter:
    def __init__(self, results_dir: Path, run_id: str,
                 subdirs: tuple[str, ...] = ("records", "logs")) -> None:
        self.root = results_dir / run_id
        try:
            self.root.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise UserError(f"{self.root} exists; results are never overwritten") from None
        for sub in subdirs:
            (self.root / sub).mkdir()

    def _write(self, path: Path, data: Any) -> None:
        # Whole-file replace, so a reader never sees half a file.
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
        os.replace(temporary, path)

    def write_header(self, header: RunHeader) -> None:
        self._write(self.root / header_file(header.kind), header.model_dump(mode="json"))

    def write_record(self, record: AnyRecord) -> None:
        """Records are immutable: writing one twice is a bug, never an update."""
        path = self.root / "records" / f"{record.record_id}.json"
        if path.exists():
            raise FileExistsError(path)
        self._write(path, record.model_dump(mode="json"))


def kind_of(root: Path) -> str | None:
    """The kind of result directory `root` is, from its header file; None if it is none."""
    return next((kind for kind in MODELS if (root / header_file(kind)).is_file()), None)


def check_version(data: dict[str, Any], path: Path) -> int:
    version = data.get("schema_version")
    if not isinstance(version, int) or version not in SCHEMA_HISTORY:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        raise UserError(
            f"{path}: result schema version {version!r} is "
            + ("newer than this servebench understands (up to "
               f"{SCHEMA_VERSION}); upgrade servebench to read it" if newer else
               f"unknown (known: {sorted(SCHEMA_HISTORY)})")
        )
    return version


def _read_json(path: Path, kind: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: not a servebench {kind} result ({error})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a servebench {kind} result (not a JSON object)")
    return data


def record_ids(header: RunHeader) -> list[str]:
    if isinstance(header, Run):
        floor = header.floor.records if header.floor else []
        return [rid for outcome in header.stacks for rid in outcome.records] + floor
    if isinstance(header, CapacityRun):
        return list(header.records)
    if isinstance(header, SoakRun | RobustnessRun | CheckRun):
        return list(header.stacks)
    raise TypeError(type(header))


@dataclass(frozen=True)
class Loaded(Generic[H, R]):
    root: Path
    run: H  # the header, with its kind's body
    records: list[R]


LoadedRun = Loaded[Run, Record]
LoadedCapacityRun = Loaded[CapacityRun, CapacityRecord]
LoadedSoak = Loaded[SoakRun, SoakRecord]


def load(root: Path, expected: str | None = None) -> Loaded[Any, Any]:
    """A result directory of any kind (or of `expected`), validated and migrated to the current
    schema version; refuses unknown or newer versions with a clear message."""
    kind = kind_of(root)
    if kind is None:
        raise UserError(f"{root}: not a servebench result directory")
    if expected is not None and kind != expected:
        raise UserError(f"{root.name} is a {kind} result; this reads {expected} results only")
    path = root / header_file(kind)
    data = _read_json(path, kind)
    version = check_version(data, path)
    header_model, record_model = MODELS[kind]
    try:
        header = header_model.model_validate(migrations.header(data, kind))
        records = []
        for rid in record_ids(header):
            found = root / "records" / f"{rid}.json"
            if not found.is_file() and kind == "soak":
                found = root / "stacks" / f"{rid}.json"  # before version 5
            records.append(record_model.model_validate(migrations.record(_read_json(found, kind), kind,
                                                                        version)))
    except (ValidationError, KeyError, TypeError) as error:
        raise UserError(f"{root}: does not match the {kind} schema ({_first_problem(error)})") from None
    return Loaded(root, header, records)


def _first_problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return (f"{error.error_count()} errors, first: {'.'.join(map(str, first['loc']))} "
                f"{first['msg'].lower()}")
    return f"{type(error).__name__}: {error}"


def load_run(root: Path) -> LoadedRun:
    return cast(LoadedRun, load(root, "run"))


def load_capacity(root: Path) -> LoadedCapacityRun:
    return cast(LoadedCapacityRun, load(root, "capacity"))


def load_soak(root: Path) -> LoadedSoak:
    return cast(LoadedSoak, load(root, "soak"))


def result_dirs(results_dir: Path) -> list[Path]:
    """Every result directory of any kind, newest first (ids start with the UTC start time;
    capacity runs before version 5 had a `capacity-` prefix)."""
    if not results_dir.is_dir():
        return []
    found = [p for p in results_dir.iterdir() if p.is_dir() and kind_of(p) is not None]
    return sorted(found, key=lambda p: p.name.removeprefix("capacity-"), reverse=True)
