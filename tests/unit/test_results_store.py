"""Result directories: never overwritten, one loader for every kind that refuses formats it does
not know, and the definitions every flag is raised with."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from servebench.errors import UserError
from servebench.results.declarations import RUN_FLAGS, SOAK_FLAGS
from servebench.results.schema import SCHEMA_HISTORY, SCHEMA_VERSION
from servebench.results.store import MODELS, ResultWriter, kind_of, load, load_run, load_soak, run_id

ROOT = Path(__file__).resolve().parents[2]


def _header(root: Path, kind: str, version: object) -> None:
    root.mkdir(parents=True)
    (root / f"{kind}.json").write_text(json.dumps({"schema_version": version, "run_id": "x", "kind": kind}))


def test_every_version_up_to_the_current_one_has_its_history() -> None:
    assert set(SCHEMA_HISTORY) == set(range(1, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("kind", list(MODELS))
def test_a_newer_schema_version_is_refused_with_a_clear_message(tmp_path: Path, kind: str) -> None:
    _header(tmp_path / "r", kind, SCHEMA_VERSION + 1)
    assert kind_of(tmp_path / "r") == kind
    with pytest.raises(UserError, match="newer than this servebench understands"):
        load(tmp_path / "r")


@pytest.mark.parametrize("version", [0, "1", None])
def test_an_unknown_schema_version_is_refused(tmp_path: Path, version: object) -> None:
    _header(tmp_path / "run", "run", version)
    with pytest.raises(UserError, match="unknown"):
        load_run(tmp_path / "run")


def test_a_directory_without_a_header_is_not_a_result(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a servebench result directory"):
        load_run(tmp_path)


def test_a_result_of_another_kind_is_refused_by_name(tmp_path: Path) -> None:
    _header(tmp_path / "r", "capacity", SCHEMA_VERSION)
    with pytest.raises(UserError, match="is a capacity result"):
        load_soak(tmp_path / "r")


def test_a_result_directory_is_never_overwritten(tmp_path: Path) -> None:
    name = run_id("run", "abc", datetime(2025, 1, 1, tzinfo=UTC))
    assert name == "20250101T000000Z-abc-run"
    ResultWriter(tmp_path, name)
    with pytest.raises(UserError, match="never overwritten"):
        ResultWriter(tmp_path, name)


def _raised(*modules: str) -> set[str]:
    source = "".join((ROOT / "loadtests" / name).read_text() for name in modules)
    return set(re.findall(r'(?:flags|append)\(?"([a-z_]+)"\)', source))


def test_every_flag_a_closed_loop_run_can_raise_is_defined_with_a_distinct_code() -> None:
    raised = _raised("measure.py") | {f"{side}_cpu_contention" for side in ("server", "load")}
    assert raised and raised <= set(RUN_FLAGS)
    codes = [flag.code for flag in RUN_FLAGS.values()]
    assert len(codes) == len(set(codes))


def test_every_flag_a_soak_can_raise_is_defined() -> None:
    assert _raised("soak.py", "soak_windows.py") == set(SOAK_FLAGS)
