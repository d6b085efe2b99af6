from __future__ import annotations

import json
from pathlib import Path

from servebench.cli import main
from shared_model.cases import BAD


def test_the_matrix_records_every_case_and_our_stack_passes_all(tmp_path: Path) -> None:
    assert main(["robustness", "--stacks", "fastapi_threadpool", "--out", str(tmp_path)]) == 0
    document = json.loads(next(tmp_path.glob("robustness-*.json")).read_text())
    cases = document["stacks"]["fastapi_threadpool"]["cases"]
    assert len(cases) == len(BAD) + 1  # plus the slow body
    assert {c["outcome"] for c in cases} == {"pass"}
    assert all(c["ready_after"] for c in cases)
    slow = next(c for c in cases if c["case"] == "slow_body")
    assert slow["status"] == 422 and slow["error_body"]
