"""Soak directories: never overwritten, versioned like runs, and every flag explained."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from servebench.errors import UserError
from servebench.results.schema import SCHEMA_VERSION
from servebench.results.soak_schema import SOAK_FLAGS, SoakWriter, load_soak

ROOT = Path(__file__).resolve().parents[2]


def test_a_soak_directory_is_never_overwritten(tmp_path: Path) -> None:
    writer = SoakWriter(tmp_path, "20250101T000000Z-abc-soak")
    assert {p.name for p in writer.root.iterdir()} == {"stacks", "logs", "locust"}
    with pytest.raises(UserError, match="never overwritten"):
        SoakWriter(tmp_path, "20250101T000000Z-abc-soak")


@pytest.mark.parametrize(("version", "message"), [(SCHEMA_VERSION + 1, "newer"), ("2", "unknown")])
def test_a_soak_of_an_unknown_version_is_refused(tmp_path: Path, version: object, message: str) -> None:
    (tmp_path / "soak.json").write_text(json.dumps({"schema_version": version, "kind": "soak"}))
    with pytest.raises(UserError, match=message):
        load_soak(tmp_path)


def test_a_run_directory_is_not_a_soak(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a servebench soak run"):
        load_soak(tmp_path)


def test_every_flag_a_soak_can_raise_is_explained() -> None:
    source = "".join((ROOT / "loadtests" / name).read_text() for name in ("soak.py", "soak_windows.py"))
    raised = set(re.findall(r'(?:flags|append)\(?"([a-z_]+)"\)', source))
    assert raised and raised == set(SOAK_FLAGS)
