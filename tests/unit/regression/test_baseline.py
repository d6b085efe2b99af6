from __future__ import annotations

import json
from pathlib import Path

import pytest

from servebench.cli import main
from servebench.regression import baseline
from servebench.regression.sampler import Rounds, SamplingPlan


def _write(path: Path, **changes: object) -> None:
    baseline.dump(path, SamplingPlan(), "default", {"fastapi_batcher": ([Rounds([[1]], [[1]])], {})}, {})
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, **changes}))


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    _write(path)
    document = baseline.load(path)
    assert baseline.plan_of(document) == SamplingPlan()
    assert baseline.runs_of(document, "fastapi_batcher") == [Rounds([[1]], [[1]])]
    with pytest.raises(baseline.BaselineError, match="no measurement"):
        baseline.runs_of(document, "flask_gunicorn")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": baseline.VERSION + 1}, "upgrade servebench"),
        ({"version": 0}, "re-create it"),
        ({"schema": "something-else"}, "not a servebench baseline"),
    ],
)
def test_incompatible_baselines_are_refused(tmp_path: Path, changes: dict, message: str) -> None:
    path = tmp_path / "b.json"
    _write(path, **changes)
    with pytest.raises(baseline.BaselineError, match=message):
        baseline.load(path)


def test_check_exits_2_without_a_usable_baseline(tmp_path: Path, capsys) -> None:
    assert main(["check", "--baseline", str(tmp_path / "missing.json")]) == 2
    assert "make baseline" in capsys.readouterr().out
    path = tmp_path / "newer.json"
    _write(path, version=baseline.VERSION + 1)
    assert main(["check", "--baseline", str(path)]) == 2
    assert "upgrade servebench" in capsys.readouterr().out
    (tmp_path / "garbage.json").write_text("{not json")
    assert main(["check", "--baseline", str(tmp_path / "garbage.json")]) == 2
