from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

from servebench.cli import main
from servebench.report.render import write_run_report
from servebench.results.store import LoadedRun
from tests.unit.report.conftest import FIXTURE, with_failed_stack, with_flag


class Page(HTMLParser):
    """Just enough structure to check a page: leaderboard rows, plots, outside references."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}  # workload -> stacks in leaderboard order
        self.svgs = 0
        self.external: list[str] = []
        self._workload: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and "leaderboard" in (a.get("class") or ""):
            self._workload = a["data-workload"]
            self.rows[self._workload or ""] = []
        if tag == "tr" and self._workload is not None and a.get("data-stack"):
            self.rows[self._workload].append(a["data-stack"] or "")
        if tag == "svg":
            self.svgs += 1
        for name in ("src", "href"):
            value = a.get(name) or ""
            if tag in ("script", "link", "img", "iframe") and re.match(r"(https?:)?//", value):
                self.external.append(value)
        if tag == "link":
            self.external.append(a.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._workload = None


def test_the_page_has_a_leaderboard_row_per_stack_and_plots(loaded: LoadedRun, rendered: Path) -> None:
    html = rendered.read_text()
    page = Page(html)
    stacks = sorted(loaded.run.settings.stacks)
    assert set(page.rows) == set(loaded.run.settings.workloads)
    assert all(sorted(rows) == stacks for rows in page.rows.values())
    # throughput and p99 per workload; the first also its curve and distribution (and batching)
    assert page.svgs >= 2 * len(page.rows) + 2
    assert page.external == [], "a report must open without network access"


def test_provenance_and_claims_are_on_the_page(loaded: LoadedRun, rendered: Path) -> None:
    html = rendered.read_text()
    run = loaded.run
    for text in (run.run_id, run.git_commit or "", run.model["sha256"], run.machine.cpu_model,
                 "result schema version 1", "3 significant figures", "Claims check",
                 "Configuration parity", "not measured"):
        assert text in html, text


def test_failures_and_flags_are_shown_not_dropped(loaded: LoadedRun, tmp_path: Path) -> None:
    stack = loaded.run.stacks[0].stack
    flagged_id = loaded.records[-1].record_id
    derived = with_flag(with_failed_stack(loaded, stack, "Traceback: model exploded"), flagged_id,
                        "generator_bound")
    page = write_run_report(derived, tmp_path)
    html = page.read_text()
    assert "Traceback: model exploded" in html
    assert f"{stack} failed" in html
    assert "generator_bound" in html  # counted on the run page, listed on the stack's page
    flagged_stack = loaded.records[-1].stack
    assert flagged_id in (page.parent / f"stack-{flagged_stack}.html").read_text()
    assert all(stack in rows for rows in Page(html).rows.values())


def _copy_run(results: Path, run_id: str, started_at: str) -> None:
    target = results / run_id
    shutil.copytree(FIXTURE, target)
    data = json.loads((target / "run.json").read_text())
    data.update(run_id=run_id, started_at=started_at)
    (target / "run.json").write_text(json.dumps(data))


def test_report_command_writes_the_page_and_an_index_newest_first(tmp_path: Path, capsys) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    _copy_run(results, "20250101T000000Z-old", "2025-01-01T00:00:00+00:00")
    _copy_run(results, "20260101T000000Z-new", "2026-01-01T00:00:00+00:00")
    args = ["--results-dir", str(results), "--reports-dir", str(reports)]
    assert main(["report", "latest", *args]) == 0
    assert (reports / "20260101T000000Z-new" / "index.html").is_file()
    assert (reports / "20250101T000000Z-old" / "index.html").is_file()  # the index renders what is missing
    index = (reports / "index.html").read_text()
    assert index.index("20260101T000000Z-new") < index.index("20250101T000000Z-old")
    assert " peaks at " in index and "not rendered:" not in index
    assert "index:" in capsys.readouterr().out


def test_unknown_runs_and_reference_stacks_are_user_errors(tmp_path: Path, capsys) -> None:
    results = tmp_path / "results"
    _copy_run(results, "20260101T000000Z-new", "2026-01-01T00:00:00+00:00")
    args = ["--results-dir", str(results), "--reports-dir", str(tmp_path / "reports")]
    assert main(["report", "nope", *args]) == 1
    assert main(["report", "latest", "--reference", "nope", *args]) == 1
    assert main(["report", "latest", "--users", "7", *args]) == 1
    err = capsys.readouterr().err
    assert "was not measured" in err and "no level of 7 users" in err


def test_compare_command_prints_and_writes_with_warnings(tmp_path: Path, capsys) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    _copy_run(results, "20250101T000000Z-a", "2025-01-01T00:00:00+00:00")
    _copy_run(results, "20260101T000000Z-b", "2026-01-01T00:00:00+00:00")
    data = json.loads((results / "20260101T000000Z-b" / "run.json").read_text())
    data["machine"]["cpu_model"] = "Another CPU"
    (results / "20260101T000000Z-b" / "run.json").write_text(json.dumps(data))
    code = main(["compare", "20250101T000000Z-a", "20260101T000000Z-b", "--results-dir", str(results),
                 "--reports-dir", str(reports)])
    assert code == 0
    out = capsys.readouterr().out
    assert "machine differs" in out and "not significant" not in out
    page = (reports / "compare" / "20250101T000000Z-a__20260101T000000Z-b.html").read_text()
    assert "machine differs: cpu_model AMD EPYC → Another CPU" in page
    assert "+0.0 % ~" in page
