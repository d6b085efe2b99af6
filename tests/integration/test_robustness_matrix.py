from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.connection_cases import CONNECTION_CASES
from loadtests.robustness import SLOW_CASES
from servebench.cli import main
from servebench.results.store import load
from shared_model.cases import BAD

# Holds connections, times answers against a baseline and loads the stack under its limits.
pytestmark = pytest.mark.serial


def test_the_matrix_records_every_case_and_our_stack_passes_or_declares_all(tmp_path: Path) -> None:
    assert main(["robustness", "--stacks", "fastapi_threadpool", "--results-dir", str(tmp_path),
                 "--reports-dir", str(tmp_path / "reports")]) == 0
    (root,) = tmp_path.glob("*-robustness")
    loaded = load(root)
    assert loaded.run.row_cost_us > 0
    (record,) = loaded.records
    assert record.status == "ok" and all(c.ok for c in record.checks)  # answers verified first
    cases = {c.case: c for c in record.cases}
    assert len(cases) == len(BAD) + len(SLOW_CASES) + len(CONNECTION_CASES)
    assert {c.case for c in record.cases if c.outcome != "pass"} == {"oversized_headers"}
    assert cases["oversized_headers"].outcome == "declared"  # uvicorn's parser: no header limit
    assert all(c.ready_after for c in cases.values())
    slow = cases["slow_headers"]
    assert slow.status == 422 and slow.error_body
    assert all(cases[c.name].detail for c in CONNECTION_CASES)
    # The second session, under scarce resources.
    assert record.limits_status == "ok" and [r.resource for r in record.limits] == ["open_files", "memory"]
    page = (tmp_path / "reports" / root.name / "index.html").read_text()
    assert "fastapi_threadpool" in page and "every answer passed or declared" in page
    assert "Connection-level cases" in page and "Scarce resources" in page


def test_gevent_workers_answer_a_fresh_client_that_sync_workers_leave_waiting(tmp_path: Path) -> None:
    """The Flask stack's worker class against gunicorn's sync workers in the same run, each
    configuration its own row: with idle connections held, each sync worker sits on one and a
    fresh request waits for them to give up."""
    assert main(["robustness", "--stacks", "flask_gunicorn", "flask_gunicorn:worker_class=sync",
                 "--no-limits", "--results-dir", str(tmp_path), "--no-report"]) == 1  # sync fails
    (root,) = tmp_path.glob("*-robustness")
    gevent, sync = load(root).records
    assert gevent.knobs["worker_class"] == "gevent"
    assert sync.record_id == "flask_gunicorn+worker_class=sync" and sync.knobs["worker_class"] == "sync"
    assert sync.limits_status == "skipped"
    assert {c.outcome for c in gevent.cases} == {"pass"}
    flooded = {c.case: c for c in sync.cases}["idle_flood"]
    assert flooded.outcome == "fail" and flooded.status is None, flooded
    assert [c.case for c in sync.cases if c.outcome != "pass"] == ["idle_flood"]
