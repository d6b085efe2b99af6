"""The HTML page, index entry and terminal table of a capacity run, from synthetic records."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from loadtests.arrivals import Segment
from loadtests.capacity_search import SearchSettings
from loadtests.generators import GeneratorSettings
from loadtests.openloop import OpenLoopSettings, Rows, verdict, window
from loadtests.recorder import header_fields
from servebench.cli import main
from servebench.commands.capacity import print_table
from servebench.errors import UserError
from servebench.report.capacity import capacity_rows, headline, step_reasons, verdict_reasons
from servebench.report.render import resolve_any, write_index, write_report
from servebench.results.capacity import CapacityRecord, CapacityRun, CapacitySettings, Step
from servebench.results.declarations import CAPACITY_FLAGS
from servebench.results.schema import Check
from servebench.results.store import LoadedCapacityRun, ResultWriter
from servebench.results.store import load_capacity as load_capacity_run
from servers.registry import STACKS
from tests.unit.report.conftest import FIXTURE
from tests.unit.test_overload_accounting import simulated

OL = OpenLoopSettings(GeneratorSettings(None), slo_ms=50.0)
RUN_ID = "capacity-20261124T120000Z-0123456789ab"


def step(step_id: str, rate: float, latency_ms: float, outcome: str = "", lag_ms: float = 0.1) -> Step:
    n = int(rate * 2)
    intended = np.arange(n) / rate
    latency = np.full(n, latency_ms * 1000)
    rows = Rows(intended, np.full(n, lag_ms * 1000), latency, latency - lag_ms * 1000,
                np.asarray([outcome if i % 10 == 0 else "" for i in range(n)], dtype=object))
    measured = window(rows, Segment("measured", rate, 2.0), 0.0, OL, [])
    return Step(step_id=step_id, arrival="poisson", windows=[measured], measured="measured",
                verdict=verdict(measured, OL), flags=["server_cpu_contention"] if rate == 100 else [],
                resources=None, generator_commands=[], raw_dir=f"locust/{step_id}")


def record(stack: str, status: str = "ok") -> CapacityRecord:
    steps = [step("01-50rps", 50, 10), step("02-100rps", 100, 20), step("03-200rps", 200, 90),
             step("04-141rps", 141.4, 30, outcome="status_503"), step("05-119rps", 118.9, 60, lag_ms=30)]
    failed = status == "failed"
    return CapacityRecord(
        record_id=f"{stack}__default", stack=stack, title=f"{stack} title", model="default",
        model_sha256="f" * 64, workers=None, knobs={"workers": 2}, command=["serve"], server_cpus=[1],
        load_cpus=[0], shared_cpus=False, status="failed" if failed else "ok",
        reason="died during 03-200rps" if failed else None, log_tail="Traceback: boom" if failed else None,
        checks=[Check(name="ready", ok=True, detail="")], time_to_ready_s=1.0, shutdown_s=0.1,
        slo_ms=50.0, max_error_rate=0.01, steps=steps, capacity_rps=100.0, capacity_step="02-100rps",
        capacity_p50_ms=20.0, capacity_p99_ms=20.0, limited_by="failed" if failed else "slo",
        overload=[] if failed else [simulated(1.5), simulated(2.0)], log=f"logs/{stack}.log")


def capacity_run(records: list[CapacityRecord]) -> CapacityRun:
    search = SearchSettings()
    stacks = ["fastapi_batcher", "flask_gunicorn", "bentoml"]
    fields = {**header_fields("capacity", [STACKS[s] for s in stacks], CAPACITY_FLAGS, ["locust"]),
              "run_id": RUN_ID, "status": "complete", "started_at": "2026-11-24T12:00:00+00:00",
              "finished_at": "2026-11-24T12:10:00+00:00", "wall_time_s": 600.0, "estimate_s": 580.0,
              "git_commit": "0123456789abcdef", "git_dirty": False}
    return CapacityRun(
        **fields, models={"default": {"sha256": "f" * 64, "version": "1"}},
        settings=CapacitySettings(
            stacks=stacks, models=["default"], workers=None,
            workload="single", arrival="poisson", slo_ms=50.0, max_error_rate=0.01,
            start_rps=search.start_rps, growth=search.growth, max_rps=search.max_rps,
            resolution=search.resolution, warmup_s=0.5, step_s=2.5, overload_factors=[1.5, 2.0],
            overload_s=3.0, recovery_s=4.0, max_outstanding=50, timeout_s=1.0, max_send_lag_ms=10.0,
            min_achieved=0.95, server_cpus=[1], load_cpus=[0], locust_workers=0,
            generator_bound_percent=90.0),
        records=[r.record_id for r in records])


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A results directory with the closed-loop fixture run and one synthetic capacity run."""
    results = tmp_path / "results"
    results.mkdir()
    shutil.copytree(FIXTURE, results / FIXTURE.name)
    records = [record("fastapi_batcher"), record("flask_gunicorn", "failed")]
    writer = ResultWriter(results, RUN_ID)
    for r in records:
        writer.write_record(r)
    writer.write_header(capacity_run(records))
    return results


def test_verdict_reasons_name_the_first_failure_above_capacity_and_invalid_steps(results: Path) -> None:
    loaded = load_capacity_run(results / RUN_ID)
    ok = loaded.records[0]
    assert [s.verdict for s in ok.steps] == ["pass", "pass", "fail", "fail", "invalid"]
    reasons = verdict_reasons(ok)
    assert reasons[0] == "a higher rate missed the p99 SLO"
    assert reasons[1] == "at 141 req/s: errors 10.3 % > 1.0 % (status_503 29)"  # the lowest failure
    assert "1 invalid step(s): 119 req/s (send_lag)" in reasons[2]
    assert step_reasons(ok.steps[2], 50.0, 0.01) == ["p99 90.0 ms > 50 ms"]
    assert verdict_reasons(loaded.records[1]) == ["failed: died during 03-200rps"]
    row = capacity_rows(loaded)[0]
    assert (row.capacity_rps, row.steps, row.invalid, row.contended) == (100.0, 5, 1, 1)
    assert [o.factor for o in row.overload] == [1.5, 2.0]
    assert row.overload[1].saturated and row.overload[1].queue_grows
    assert headline(loaded) == ("capacity: fastapi_batcher__default serves 100 req/s at p99 <= 50 ms; "
                                "failed: flask_gunicorn__default")


def test_report_page_shows_the_capacity_table_plot_and_overload(results: Path, tmp_path: Path) -> None:
    page = write_report(results / RUN_ID, tmp_path / "reports")
    assert page == tmp_path / "reports" / RUN_ID / "index.html"
    html = page.read_text()
    for text in ("Capacity at the SLO", 'data-record="fastapi_batcher__default"', "p99 ≤ 50.0 ms",
                 "a higher rate missed the p99 SLO", "1 invalid / 1 contended", "queue grows",
                 "SATURATED", "never sent", "not_sent", "<svg", "p99 vs offered rate", "SLO 50 ms",
                 "flask_gunicorn__default</b> failed", "Traceback: boom", "<b>bentoml</b> was not reached"):
        assert text in html, text


def test_index_lists_capacity_runs_marked_and_report_dispatches_on_the_run_kind(
        results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = tmp_path / "reports"
    assert resolve_any(results, "latest") == ("capacity", results / RUN_ID)  # newest by start time
    assert resolve_any(results, "latest-capacity") == ("capacity", results / RUN_ID)
    assert resolve_any(results, FIXTURE.name) == ("run", results / FIXTURE.name)
    with pytest.raises(UserError):
        resolve_any(results, "nope")
    assert main(["report", RUN_ID, "--results-dir", str(results), "--reports-dir", str(reports)]) == 0
    assert f"report: {reports / RUN_ID / 'index.html'}" in capsys.readouterr().out
    index = write_index(results, reports).read_text()
    assert index.index(RUN_ID) < index.index(FIXTURE.name)
    assert 'data-kind="capacity"' in index and f'href="{RUN_ID}/index.html"' in index
    assert "capacity: fastapi_batcher__default serves 100 req/s" in index
    assert index.count('data-kind="capacity"') == 1 and index.count('data-kind="run"') == 1
    assert "single, p99 SLO 50 ms" in index  # what sets a capacity run apart: its workload and SLO


def test_show_prints_the_capacity_table_from_disk(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", RUN_ID, "--results-dir", str(results)]) == 0
    out = capsys.readouterr().out
    assert "fastapi_batcher" in out and "SATURATED" in out and "FAILED: died during 03-200rps" in out
    console = Console(width=300, record=True)
    loaded: LoadedCapacityRun = load_capacity_run(results / RUN_ID)
    print_table(console, loaded.records)
    text = console.export_text()
    assert "2x: goodput" in text and "GROWS" in text and "never sent" in text
