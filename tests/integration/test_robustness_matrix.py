from __future__ import annotations

from pathlib import Path

from servebench.cli import main
from servebench.results.store import load
from shared_model.cases import BAD


def test_the_matrix_records_every_case_and_our_stack_passes_all(tmp_path: Path) -> None:
    assert main(["robustness", "--stacks", "fastapi_threadpool", "--results-dir", str(tmp_path),
                 "--reports-dir", str(tmp_path / "reports")]) == 0
    (root,) = tmp_path.glob("*-robustness")
    loaded = load(root)
    (record,) = loaded.records
    assert record.status == "ok" and all(c.ok for c in record.checks)  # answers verified first
    cases = record.cases
    assert len(cases) == len(BAD) + 1  # plus the slow body
    assert {c.outcome for c in cases} == {"pass"}
    assert all(c.ready_after for c in cases)
    slow = next(c for c in cases if c.case == "slow_body")
    assert slow.status == 422 and slow.error_body
    page = (tmp_path / "reports" / root.name / "index.html").read_text()
    assert "fastapi_threadpool" in page and "every answer passed or declared" in page
