"""The index of every result: whole whatever is in results/, with what sets each run apart and a
comparison with the previous run of the same profile and model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from servebench.report.render import write_index
from tests.unit.report.conftest import FIXTURE
from tests.unit.report.tables import tables

OLD, NEW = "20250101T000000Z-old", "20260101T000000Z-new"


def _copy_run(results: Path, run_id: str, started_at: str, **changes: object) -> None:
    target = results / run_id
    shutil.copytree(FIXTURE, target)
    data = json.loads((target / "run.json").read_text())
    data.update(run_id=run_id, started_at=started_at, **changes)
    (target / "run.json").write_text(json.dumps(data))


def _rows(index: Path) -> dict[str, dict[str, str]]:
    """Each row's cells by column, keyed by its directory's name, in the index's order."""
    html = index.read_text()
    (rows,) = tables(html).values()
    header, ids = rows[0], re.findall(r'data-run="([^"]+)"', html)
    return {run_id: dict(zip(header, row, strict=True)) for run_id, row in zip(ids, rows[1:], strict=True)}


def test_every_directory_is_listed_and_every_page_rendered(tmp_path: Path) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    _copy_run(results, OLD, "2025-01-01T00:00:00+00:00")
    _copy_run(results, NEW, "2026-01-01T00:00:00+00:00")
    (results / "20270101T000000Z-broken").mkdir()
    (results / "20270101T000000Z-broken" / "run.json").write_text("{")
    (results / "scratch").mkdir()
    rows = _rows(write_index(results, reports))
    assert list(rows) == ["20270101T000000Z-broken", NEW, OLD, "scratch"]
    assert "unreadable" in rows["20270101T000000Z-broken"]["run"]
    assert "not a result" in rows["scratch"]["run"]
    for run_id in (NEW, OLD):
        assert (reports / run_id / "index.html").is_file()
        row = rows[run_id]
        assert row["kind"] == "run" and row["model"] == "default" and row["generator"] == "locust"
        assert row["profile / settings"].startswith("full (1, 16 users, 1.5 s × 2)")
        assert "S×32" in row["flags"] and "L×32" in row["flags"]  # code, then how many measurements carry it
        assert " peaks at " in row["headline"] and "[flagged " in row["headline"]


def test_runs_of_the_same_profile_and_model_link_to_a_comparison(tmp_path: Path) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    _copy_run(results, OLD, "2025-01-01T00:00:00+00:00")
    _copy_run(results, NEW, "2026-01-01T00:00:00+00:00")
    index = write_index(results, reports)
    rows = _rows(index)
    assert rows[NEW]["compare with"] == OLD and rows[OLD]["compare with"] == "–"
    page = reports / "compare" / f"{OLD}__{NEW}.html"
    assert page.is_file() and f'href="compare/{OLD}__{NEW}.html"' in index.read_text()


def test_runs_of_another_profile_are_not_compared(tmp_path: Path) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    _copy_run(results, OLD, "2025-01-01T00:00:00+00:00")
    data = json.loads((FIXTURE / "run.json").read_text())
    _copy_run(results, NEW, "2026-01-01T00:00:00+00:00",
              settings={**data["settings"], "profile": "quick"})
    rows = _rows(write_index(results, reports))
    assert rows[NEW]["compare with"] == "–"
    assert not (reports / "compare").exists()
