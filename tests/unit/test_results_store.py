"""The run directory: never overwritten, and a loader that refuses formats it does not know."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servebench.errors import UserError
from servebench.results.schema import SCHEMA_HISTORY, SCHEMA_VERSION
from servebench.results.store import RunWriter, load_run


def _run_json(root: Path, version: object) -> None:
    root.mkdir(parents=True)
    (root / "run.json").write_text(json.dumps({"schema_version": version, "run_id": "x"}))


def test_every_version_up_to_the_current_one_has_its_history() -> None:
    assert set(SCHEMA_HISTORY) == set(range(1, SCHEMA_VERSION + 1))


def test_a_newer_schema_version_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    _run_json(tmp_path / "run", SCHEMA_VERSION + 1)
    with pytest.raises(UserError, match="newer than this servebench understands"):
        load_run(tmp_path / "run")


@pytest.mark.parametrize("version", [0, "1", None])
def test_an_unknown_schema_version_is_refused(tmp_path: Path, version: object) -> None:
    _run_json(tmp_path / "run", version)
    with pytest.raises(UserError, match="unknown"):
        load_run(tmp_path / "run")


def test_a_directory_without_run_json_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a servebench run"):
        load_run(tmp_path)


def test_a_run_directory_is_never_overwritten(tmp_path: Path) -> None:
    RunWriter(tmp_path, "20250101T000000Z-abc")
    with pytest.raises(UserError, match="never overwritten"):
        RunWriter(tmp_path, "20250101T000000Z-abc")


def test_every_flag_the_orchestrator_can_raise_is_explained() -> None:
    import re

    from servebench.results.schema import FLAGS

    source = (Path(__file__).resolve().parents[2] / "loadtests" / "measure.py").read_text()
    raised = set(re.findall(r'flags\.append\("([a-z_]+)"\)', source))
    raised |= {f"{side}_cpu_contention" for side in ("server", "load")}
    assert raised and raised <= set(FLAGS)
    codes = [code for code, _ in FLAGS.values()]
    assert len(codes) == len(set(codes))
