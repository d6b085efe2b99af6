"""Soak reports from a real short soak (tests/fixtures/soaks) and variants derived from it in memory."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from loadtests.soak_windows import drift_of
from servebench.cli import main
from servebench.report.render import write_loaded
from servebench.results.soak_schema import SoakRecord
from servebench.results.store import LoadedSoak, load_soak
from tests.unit.report.conftest import FIXTURE as RUN_FIXTURE

SOAK_ID = "20261124T151629Z-a5bd2188191b-soak"
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "soaks" / SOAK_ID


class SoakPage(HTMLParser):
    """The drift table's rows (stack -> verdict, tail judged), the plots and outside references."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.verdicts: dict[str, str] = {}
        self.tail: dict[str, str] = {}
        self.figures = 0
        self.svgs = 0
        self.external: list[str] = []
        self._stack: str | None = None
        self._cell: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-verdict") is not None:
            self._stack = a.get("data-stack") or ""
            self.verdicts[self._stack] = a["data-verdict"] or ""
        if tag == "td" and self._stack and "tail" in (a.get("class") or ""):
            self._cell = ""
        if tag == "figure":
            self.figures += 1
        if tag == "svg":
            self.svgs += 1
        for name in ("src", "href"):
            value = a.get(name) or ""
            if tag in ("script", "link", "img", "iframe") and re.match(r"(https?:)?//", value):
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._stack:
            self.tail[self._stack] = self._cell
            self._cell = None
        if tag == "tr":
            self._stack = None


@pytest.fixture(scope="module")
def loaded() -> LoadedSoak:
    return load_soak(FIXTURE)


def leaking(record: SoakRecord, stack: str, mb_per_window: float) -> SoakRecord:
    """The record as another stack whose first process grew by `mb_per_window` each window, with
    other processes busy on the server's CPUs; drift and verdict re-fitted by the soak's own code."""
    pid = min(record.windows[0].processes, key=int)
    windows = []
    for w in record.windows:
        processes = dict(w.processes)
        if pid in processes:
            processes[pid] = processes[pid].model_copy(
                update={"rss_mb": processes[pid].rss_mb + mb_per_window * w.index})
        windows.append(w.model_copy(update={
            "server_rss_mb": (w.server_rss_mb or 0.0) + mb_per_window * w.index,
            "processes": processes,
            "server_cpus_busy_percent": (w.server_cpu_percent or 0.0) + 60.0,
        }))
    found, verdict, reasons = drift_of(windows, record.rps)
    return record.model_copy(update={"stack": stack, "record_id": stack, "windows": windows, "drift": found,
                                     "verdict": verdict, "reasons": reasons,
                                     "flags": ["server_cpu_contention"]})


def failed(record: SoakRecord, stack: str) -> SoakRecord:
    return record.model_copy(update={
        "stack": stack, "record_id": stack, "status": "failed", "reason": "exited during the soak",
        "log_tail": "Traceback: boom",
        "windows": [], "drift": None, "verdict": "failed", "reasons": [], "flags": [], "requests": 0,
        "rps": None, "latency": None})


def test_a_real_soak_renders_its_drift_row_thresholds_and_one_svg_per_plot(loaded, tmp_path: Path) -> None:
    html = write_loaded(loaded, tmp_path).read_text()
    page = SoakPage(html)
    (record,) = loaded.records
    assert record.drift is not None
    assert page.verdicts == {"flask_gunicorn": record.verdict}
    assert page.figures == page.svgs == 2, "an RSS and a latency plot, each one inline SVG"
    assert page.external == [], "a report must open without network access"
    assert page.tail["flask_gunicorn"].startswith("yes")  # pinned, and the CPUs stayed free
    d = record.drift
    for text in (f"{d.rss_mb_per_min:+.2f}", f"{d.rss_kb_per_request:+.3f}", f"{d.uss_mb_per_min:+.2f}",
                 f"{d.p99_ms_per_min:+.2f}", *record.reasons):
        assert text in html, text
    t = loaded.run.settings.thresholds
    for rule in (f"at least {t['rss_mb_per_min']:g} MB/min", f"at least {t['p99_rise_percent']:g} %",
                 f"{t['p99_rise_ms']:g} ms", f"{t['noise_ratio']:g} ×",
                 f"fewer than {t['min_windows']:g} fitted"):
        assert rule in html, rule
    for process in record.processes:  # one line per process of the tree, listed with its command
        assert f"pid {process.pid}" in html and f"<code>{process.pid}</code>" in html
    assert loaded.run.git_commit and loaded.run.git_commit in html


def test_drift_verdicts_untrusted_tails_and_failures_are_all_shown(loaded, tmp_path: Path) -> None:
    (record,) = loaded.records
    grown = leaking(record, "fastapi_inline", 5.0)
    assert grown.verdict == "growing memory (tail not judged)"  # the soak's own rules decided it
    derived = LoadedSoak(loaded.root, loaded.run.model_copy(update={
        "stacks": ["flask_gunicorn", "fastapi_inline", "bentoml"],
        "settings": loaded.run.settings.model_copy(update={"stacks": ["flask_gunicorn", "fastapi_inline",
                                                                       "bentoml", "litserve"]})}),
        [record, grown, failed(record, "bentoml")])
    html = write_loaded(derived, tmp_path).read_text()
    page = SoakPage(html)
    assert page.verdicts == {"flask_gunicorn": record.verdict, "fastapi_inline": grown.verdict,
                             "bentoml": "failed"}
    assert page.svgs == page.figures == 4, "two plots per stack with windows, none for the failed one"
    assert page.tail["fastapi_inline"].startswith("no")
    fitted = len(grown.drift.rss.windows) if grown.drift else 0
    assert f"in {fitted} of {fitted} fitted windows" in page.tail["fastapi_inline"]
    assert page.tail["bentoml"].startswith("–")
    assert "v-drifting" in html and "v-stable" in html
    assert "Traceback: boom" in html and "exited during the soak" in html
    assert "<b>litserve</b> was not reached" in html
    assert "server_cpu_contention" in html and "other processes used over 20 % of a core" in html


def _copy_soak(results: Path, run_id: str) -> None:
    target = results / run_id
    shutil.copytree(FIXTURE, target)
    data = json.loads((target / "soak.json").read_text())
    data["run_id"] = run_id
    (target / "soak.json").write_text(json.dumps(data))


def _copy_run(results: Path, run_id: str) -> None:
    target = results / run_id
    shutil.copytree(RUN_FIXTURE, target)
    data = json.loads((target / "run.json").read_text())
    data["run_id"] = run_id
    (target / "run.json").write_text(json.dumps(data))


def test_report_renders_the_latest_soak_and_the_index_lists_both_kinds(tmp_path: Path, capsys) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    _copy_run(results, "20250101T000000Z-run")
    _copy_soak(results, "20260101T000000Z-abc-soak")
    _copy_soak(results, "20240101T000000Z-abc-soak")
    broken = results / "20230101T000000Z-old-soak"
    broken.mkdir()
    (broken / "soak.json").write_text(json.dumps({"schema_version": 3, "kind": "soak"}))
    args = ["--results-dir", str(results), "--reports-dir", str(reports)]
    assert main(["report", "latest", *args]) == 0
    assert main(["report", "20250101T000000Z-run", *args]) == 0
    out = capsys.readouterr().out
    page = reports / "20260101T000000Z-abc-soak" / "index.html"
    assert f"report: {page}" in out
    assert SoakPage(page.read_text()).verdicts == {"flask_gunicorn": "stable"}
    index = (reports / "index.html").read_text()
    rows = re.findall(r'<tr data-kind="(\w+)" data-run="([^"]+)"', index)
    assert rows == [("soak", "20260101T000000Z-abc-soak"), ("run", "20250101T000000Z-run"),
                    ("soak", "20240101T000000Z-abc-soak"), ("soak", "20230101T000000Z-old-soak")]
    assert 'href="20260101T000000Z-abc-soak/index.html"' in index
    assert "30 s soak at 50 % of capacity: stable: flask_gunicorn" in index
    assert " peaks at " in index  # the measurement run's row is unchanged
    assert "does not match the soak schema" in index and "unreadable" in index


def test_soak_ids_are_refused_where_only_measurement_runs_make_sense(tmp_path: Path, capsys) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    _copy_run(results, "20250101T000000Z-run")
    _copy_soak(results, "20260101T000000Z-abc-soak")
    args = ["--results-dir", str(results), "--reports-dir", str(reports)]
    assert main(["report", "20260101T000000Z-abc-soak", "--users", "16", *args]) == 1
    assert main(["compare", "20250101T000000Z-run", "20260101T000000Z-abc-soak", *args]) == 1
    assert main(["compare", "latest", "20250101T000000Z-run", *args]) == 0  # latest measurement run
    err = capsys.readouterr().err
    assert "--reference, --users and --p99-budget-ms apply to closed-loop runs, not soak runs" in err
    assert "20260101T000000Z-abc-soak is a soak run" in err
