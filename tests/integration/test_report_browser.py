"""The report opens in a real browser: no console errors, a leaderboard row per stack, plots."""

from __future__ import annotations

from pathlib import Path

import pytest

from servebench.report.render import write_loaded, write_run_report
from servebench.results.store import load_run, load_soak
from tests.integration.browser import CHROMIUM, screenshot, visit

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "20261124T112007Z-475d792eaf30"
SOAK = Path(__file__).resolve().parents[1] / "fixtures" / "soaks" / "20261124T151629Z-a5bd2188191b-soak"


@pytest.fixture(scope="module", autouse=True)
def _chromium_installed() -> None:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make sysdeps-browser` installs it")


def test_console_faults_are_caught(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('deliberate'); missingFunction();</script>"
                    "</body></html>")
    console = visit(page).console
    assert any("deliberate" in line for line in console)
    assert any("missingFunction" in line for line in console)


def test_report_renders_cleanly_with_rows_and_plots(tmp_path: Path) -> None:
    loaded = load_run(FIXTURE)
    page = write_run_report(loaded, tmp_path / "reports")
    seen = visit(page)
    assert seen.console == []
    settings = loaded.run.settings
    for workload in settings.workloads:
        table = seen.dom.split(f'data-workload="{workload}"', 1)[1].split("</table>", 1)[0]
        rows = [part.split('"', 1)[0] for part in table.split('data-stack="')[1:]]
        assert sorted(rows) == sorted(settings.stacks)
    assert seen.dom.count("<svg") >= 4 * len(settings.workloads)
    shot = screenshot(page, tmp_path / "report.png")
    assert shot.stat().st_size > 50_000  # a blank page is a few kB


def test_clicking_a_header_sorts_the_leaderboard(tmp_path: Path) -> None:
    loaded = load_run(FIXTURE)
    page = write_run_report(loaded, tmp_path / "reports")
    click = "<script>document.querySelector('table.leaderboard th').click();</script></body>"
    clicked = tmp_path / "clicked.html"
    clicked.write_text(page.read_text().replace("</body>", click, 1))
    dom = visit(clicked).dom
    table = dom.split("leaderboard", 1)[1].split("</table>", 1)[0]
    rows = [part.split('"', 1)[0] for part in table.split('data-stack="')[1:]]
    assert rows == sorted(loaded.run.settings.stacks, reverse=True)  # first click: descending


def test_a_soak_report_renders_cleanly_with_its_drift_row_and_plots(tmp_path: Path) -> None:
    loaded = load_soak(SOAK)
    page = write_loaded(loaded, tmp_path / "reports")
    seen = visit(page)
    assert seen.console == []
    table = seen.dom.split('class="sortable soak"', 1)[1].split("</table>", 1)[0]
    assert [part.split('"', 1)[0] for part in table.split('data-stack="')[1:]] == loaded.run.stacks
    assert seen.dom.count("<svg") == 2 * len(loaded.records)
