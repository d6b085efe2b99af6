"""A report of a run written by an earlier servebench renders the same key tables as when it was
first rendered: everything the report needs was recorded in the run, or supplied by the
migration of its schema version, never taken from today's code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servebench.cli import main
from tests.unit.report.tables import tables

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CASES = [("runs", "20261124T112007Z-475d792eaf30"), ("soaks", "20261124T151629Z-a5bd2188191b-soak")]


@pytest.mark.parametrize(("kind", "run_id"), CASES)
def test_key_tables_match_the_first_rendering(tmp_path: Path, kind: str, run_id: str) -> None:
    expected = json.loads((FIXTURES / kind / f"{run_id}.tables.json").read_text())
    assert main(["report", run_id, "--results-dir", str(FIXTURES / kind),
                 "--reports-dir", str(tmp_path)]) == 0
    rendered = tables((tmp_path / run_id / "index.html").read_text())
    for heading, rows in expected.items():
        assert rendered.get(heading) == rows, heading
