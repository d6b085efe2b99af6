from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from loadtests.gate import baseline, checkout
from loadtests.gate.sampler import SamplingPlan
from servebench.cli import main


def _write(path: Path, **changes: object) -> None:
    baseline.Baseline(commit="a" * 40, stacks=("fastapi_batcher",), model="default").dump(path)
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, **changes}))


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    _write(path)
    loaded = baseline.load(path)
    assert loaded.commit == "a" * 40
    assert loaded.stacks == ("fastapi_batcher",)
    assert loaded.plan == SamplingPlan()
    assert loaded.tolerances == {"p50": 0.10, "p99": 0.30, "health_p50": 0.10}


def test_a_baseline_names_a_commit_and_holds_no_numbers(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    _write(path)
    document = json.loads(path.read_text())
    assert set(document) == {"schema", "version", "commit", "stacks", "model", "tolerances", "plan", "runs"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": baseline.VERSION + 1}, "upgrade servebench"),
        ({"version": 1}, "re-create it"),
        ({"schema": "something-else"}, "not a servebench baseline"),
        ({"tolerances": {"p42": 0.1}}, "unknown tolerance"),
        ({"plan": {"rounds": 3, "bogus": 1}}, "malformed"),
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


def test_check_exits_2_when_the_base_commit_is_not_in_the_clone(tmp_path: Path, capsys) -> None:
    path = tmp_path / "b.json"
    _write(path, commit="0123456789abcdef0123456789abcdef01234567")
    assert main(["check", "--baseline", str(path), "--results-dir", str(tmp_path)]) == 2
    assert "is not in this clone" in capsys.readouterr().out


def test_the_committed_baseline_names_a_commit_of_this_history() -> None:
    reference = baseline.load(checkout.REPO_ROOT / baseline.DEFAULT_PATH)
    ancestor = subprocess.run(["git", "merge-base", "--is-ancestor", reference.commit, "HEAD"],
                              cwd=checkout.REPO_ROOT, check=False)
    assert ancestor.returncode == 0, f"{reference.commit} is not an ancestor of HEAD"


def test_baseline_names_the_commit_it_is_given(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    assert main(["baseline", "--commit", "HEAD~1", "--out", str(out)]) == 0
    assert baseline.load(out).commit == checkout.resolve("HEAD~1")
    assert main(["baseline", "--commit", "no-such-revision", "--out", str(out)]) == 1
