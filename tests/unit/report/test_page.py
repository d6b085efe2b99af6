"""The run page as a reader meets it: the verdict first, every number's trust, plots with text as
text and ids of their own, a page per stack, every table as CSV, and the size of a full run's page."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from servebench.report.render import write_run_report
from servebench.results.store import LoadedRun
from tests.unit.report.full_run import REPEATS, USERS, WORKLOADS, full_run

PAGE_LIMIT = 300_000  # bytes: a full run's page opens fast and can be mailed


@pytest.fixture(scope="module")
def full_page(loaded: LoadedRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A page the size of `make bench-all`'s, rendered once for the module."""
    return write_run_report(full_run(loaded), tmp_path_factory.mktemp("full"))


def _links(html: str, suffix: str) -> list[str]:
    return [h for h in re.findall(r'href="([^"#]+)"', html) if h.endswith(suffix)]


def test_a_full_run_page_stays_under_its_size_limit(loaded: LoadedRun, full_page: Path) -> None:
    size = full_page.stat().st_size
    assert size < PAGE_LIMIT, f"{size:,} bytes"
    html = full_page.read_text()
    assert html.count('data-stack="') >= len(full_run(loaded).run.settings.stacks) * len(WORKLOADS)


def test_plots_keep_their_text_as_text_and_no_two_elements_share_an_id(full_page: Path) -> None:
    for page in [full_page, *full_page.parent.glob("stack-*.html")]:
        html = page.read_text()
        assert "<svg" in html and "<text" in html, page.name
        assert "DejaVuSans-" not in html, f"{page.name}: glyph outlines instead of text"
        ids = Counter(re.findall(r'\sid="([^"]+)"', html))
        assert not [i for i, n in ids.items() if n > 1], page.name
        for ref in re.findall(r'(?:href|clip-path)="(?:url\()?#([^")]+)', html):
            assert ref in ids, f"{page.name}: #{ref} refers to nothing"


def test_the_verdict_comes_first_with_its_context(rendered: Path) -> None:
    html = rendered.read_text()
    verdict = html.index('id="verdict"')
    assert verdict < html.index("<h2")
    section = html[verdict:html.index("</section>", verdict)]
    assert "2 cores" in section and "model default" in section
    for key in ("latency", "throughput", "memory", "overload", "avoid"):
        assert f'data-decision="{key}"' in section, key


def test_percentiles_the_sample_does_not_support_are_greyed(rendered: Path) -> None:
    html = rendered.read_text()
    # the fixture's repeats hold a few hundred answers each: enough for a thin p99, not a supported one
    assert 'class="thin"' in html
    assert "(p99: 1,000 answers)" in html and "fewer than 1,000 answers in a repeat" in html


def test_workloads_are_described_and_batches_counted_in_rows(rendered: Path) -> None:
    html = rendered.read_text()
    assert "batch predictions only, 5-20 golden customers per request" in html  # frozen for old runs
    batch = html[html.index('id="w-batch"'):]
    assert "peak rows/s" in batch[:batch.index("</table>")]
    single = html[html.index('id="w-single"'):html.index('id="w-batch"')]
    assert "peak req/s" in single


def test_developer_sections_are_folded(rendered: Path) -> None:
    html = rendered.read_text()
    folded = html[html.index('<details class="dev" id="targets">'):]
    assert "fastapi_batcher against its targets" in folded[:folded.index("</details>")]


def test_every_table_links_a_csv_that_holds_its_rows(loaded: LoadedRun, rendered: Path) -> None:
    html = rendered.read_text()
    links = _links(html, ".csv")
    assert len(links) == len(set(links)) >= 10
    for link in links:
        assert (rendered.parent / link).is_file(), link
    with (rendered.parent / "csv" / "leaderboard-single.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["stack"] for r in rows) == sorted(loaded.run.settings.stacks)
    assert all(float(r["peak req/s"]) > 0 for r in rows)  # numbers, not formatted text


def test_a_page_per_stack_with_every_repeat_and_links_to_the_raw_files(
        loaded: LoadedRun, rendered: Path) -> None:
    html = rendered.read_text()
    pages = sorted(set(_links(html, ".html")) - {"../index.html", "index.html"})
    assert pages == sorted(f"stack-{s}.html" for s in loaded.run.settings.stacks)
    stack = loaded.run.settings.stacks[0]
    page = (rendered.parent / f"stack-{stack}.html").read_text()
    records = [r for r in loaded.records if r.stack == stack]
    assert page.count("data-record=") == len(records)
    for record in records:
        assert f'data-record="{record.record_id}"' in page
    for link in ("run.json", "records", f"logs/{stack}.log", f"records/{records[0].record_id}.json"):
        target = [h for h in re.findall(r'href="([^"]+)"', page) if h.endswith(link)]
        assert target and (rendered.parent / target[0]).exists(), link
    assert "this run predates timelines" in page  # schema 1: the page says why there are none
    with (rendered.parent / "csv" / f"stack-{stack}-measurements.csv").open() as f:
        assert len(list(csv.DictReader(f))) == len(records)


def test_a_full_run_stack_page_draws_each_measurement_over_time(loaded: LoadedRun, full_page: Path) -> None:
    stack = full_run(loaded).run.settings.stacks[0]
    page = (full_page.parent / f"stack-{stack}.html").read_text()
    assert page.count('<figure class="timeline">') == len(WORKLOADS)
    assert "throughput per window" in page and "predates" not in page
    assert page.count("data-record=") == len(WORKLOADS) * len(USERS) * REPEATS
