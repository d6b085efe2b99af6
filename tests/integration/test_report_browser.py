"""The report opens in a real browser: no console errors, a leaderboard row per stack, plots; and
the page of a real run: its verdict first, its stack's page, every table's CSV."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from loadtests.cpus import Pinning
from loadtests.run import RunConfig
from loadtests.run import run as orchestrate
from loadtests.workloads import RUN_PROFILES
from servebench.report.render import write_loaded, write_run_report
from servebench.results.store import load_run, load_soak
from tests.integration.browser import CHROMIUM, screenshot, visit

STACK = "fastapi_inline"  # starts in a few seconds

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
    assert seen.dom.count("<svg") >= 2 * len(settings.workloads) + 2
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


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short real run of one stack, two levels, two repeats: what the current servebench
    records (memory per process, timelines, logs), not a stored fixture."""
    profile = dataclasses.replace(RUN_PROFILES["quick"], workloads=("single",), users=(1, 4), warmup_s=0.5,
                                  measure_s=1.0, repeats=2, drain_timeout_s=10.0, generator="locust")
    root, run = orchestrate(RunConfig(profile=profile, stacks=(STACK,), model="default",
                                      pinning=Pinning.default(),
                                      results_dir=tmp_path_factory.mktemp("results")))
    assert run.status == "complete", run
    return root


def test_a_real_run_opens_with_its_verdict_and_drills_down_to_its_stack(
        real_run: Path, tmp_path: Path) -> None:
    page = write_run_report(load_run(real_run), tmp_path / "reports")
    seen = visit(page)
    assert seen.console == []
    verdict = seen.dom.split('id="verdict"', 1)[1].split("</section>", 1)[0]
    assert seen.dom.index('id="verdict"') < seen.dom.index("<h2")  # the first thing under the title
    for key in ("latency", "throughput", "memory", "overload", "avoid"):
        assert f'data-decision="{key}"' in verdict, key
    latency = verdict.split('data-decision="latency"', 1)[1].split("</li>", 1)[0]
    assert STACK in latency and "p50 " in latency  # the only stack measured, with its number
    memory = verdict.split('data-decision="memory"', 1)[1].split("</li>", 1)[0]
    assert "PSS " in memory  # read from the process tree after each measured phase

    stack_page = page.parent / f"stack-{STACK}.html"
    assert f'href="stack-{STACK}.html"' in seen.dom
    seen_stack = visit(stack_page)
    assert seen_stack.console == []
    assert seen_stack.dom.count("data-record=") == 4  # two levels x two repeats
    assert "throughput per window" in seen_stack.dom and "predates" not in seen_stack.dom
    assert f"logs/{STACK}.log" in seen_stack.dom

    links = [link for dom in (seen.dom, seen_stack.dom) for link in re.findall(r'href="([^"]+\.csv)"', dom)]
    assert f"csv/stack-{STACK}-measurements.csv" in links and "csv/leaderboard-single.csv" in links
    for link in links:
        lines = (page.parent / link).read_text().splitlines()
        assert lines and "," in lines[0], link
    assert len((page.parent / f"csv/stack-{STACK}-measurements.csv").read_text().splitlines()) == 1 + 4

    first_screen = screenshot(page, tmp_path / "first-screen.png", height=900)
    drill_down = screenshot(stack_page, tmp_path / "stack.png", height=2400)
    assert first_screen.stat().st_size > 20_000 and drill_down.stat().st_size > 50_000  # blank: a few kB
