"""The verdict at the top of a run's page, from the recorded fixture run (two repeats, every
measurement flagged for CPU contention) and a synthetic capacity run of the same model."""

from __future__ import annotations

import shutil
from pathlib import Path

from servebench.report.context import headline
from servebench.report.fmt import users as users_text
from servebench.report.memory import memory_rows
from servebench.report.stats import overlaps
from servebench.report.trust import bimodal
from servebench.report.verdict import (
    P99_BUDGET_FACTOR,
    context_line,
    decisions,
    flag_text,
    highest_throughput,
    least_memory,
    lowest_latency,
    most_graceful,
    to_avoid,
)
from servebench.report.view import RunView
from servebench.results.store import LoadedRun, ResultWriter, load_run
from tests.unit.report.conftest import FIXTURE
from tests.unit.report.full_run import full_run
from tests.unit.report.test_capacity_report import RUN_ID, capacity_run, record


def test_the_context_line_states_machine_pinning_model_generator_and_window(view: RunView) -> None:
    run, s = view.loaded.run, view.loaded.run.settings
    text = " · ".join(context_line(view))
    for part in (f"{run.machine.cores} cores ({run.machine.cpu_model})", "server pinned to CPU",
                 f"model {run.model['profile']}", "generator locust",
                 f"{s.repeats} repeats in fresh processes × {s.measure_s:g} s measured"):
        assert part in text, part


def test_lowest_latency_names_the_lowest_p50_and_the_stacks_tied_with_it(view: RunView) -> None:
    cells = [c for s in view.measured_stacks if (c := view.cell(s, "single", 1)) and c.p50_ms]
    best = min(cells, key=lambda c: c.p50_ms.median if c.p50_ms else 0.0)
    tied = [c.stack for c in cells if c is not best and overlaps(c.p50_ms, best.p50_ms)]
    decision = lowest_latency(view)
    assert decision.answer == best.stack + (f", tied with {', '.join(tied)}" if tied else "")
    assert best.p50_ms is not None and f"p50 {best.p50_ms.median:.2f} ms at 1 user" in decision.evidence
    # every measurement of the fixture is flagged: the number never stands without its flag
    assert any(c.startswith("flagged ") for c in decision.caveats)
    # under 1,000 answers a repeat, the p99 quoted beside it is marked as a thin tail
    assert "(thin tail)" in decision.evidence


def test_highest_throughput_keeps_to_the_p99_budget(view: RunView) -> None:
    decision = highest_throughput(view)
    lowest_p99 = min(c.p99_ms.median for s in view.measured_stacks
                     if (c := view.cell(s, "single", 1)) and c.p99_ms)
    assert f"{P99_BUDGET_FACTOR:g}× the lowest p99" in decision.evidence
    winner = decision.answer.split(",")[0]
    within = [c for c in view.stack_cells(winner, "single")
              if c.p99_ms and c.p99_ms.median <= lowest_p99 * P99_BUDGET_FACTOR]
    assert within, "the winner has a level within the budget"
    # a budget nothing keeps to decides nothing; a budget everything keeps to picks the peak
    assert not highest_throughput(view, given_budget_ms=lowest_p99 / 100).decided
    peak = max((c for c in view.cells.values() if c.workload == "single"),
               key=lambda c: c.rps.median if c.rps else 0.0)
    assert highest_throughput(view, given_budget_ms=1e9).answer.split(",")[0] == peak.stack


def test_summed_rss_alone_decides_no_memory_verdict(view: RunView) -> None:
    decision = least_memory(view)
    assert not decision.decided and "summed RSS" in decision.evidence


def test_least_memory_is_the_lowest_pss_per_replica(loaded: LoadedRun) -> None:
    view = RunView(full_run(loaded))
    rows = [r for r in memory_rows(view) if r.pss_mb is not None]
    best = min(rows, key=lambda r: r.pss_mb.median if r.pss_mb else 0.0)
    decision = least_memory(view)
    assert decision.decided and decision.answer.split(",")[0] == best.stack
    assert best.pss_mb is not None and f"PSS {best.pss_mb.median:,.0f} MB over {best.processes} process" \
        in decision.evidence


def test_overload_is_read_from_the_latest_capacity_run_of_the_same_model(tmp_path: Path) -> None:
    alone = tmp_path / "alone"
    shutil.copytree(FIXTURE, alone / FIXTURE.name)
    decision = most_graceful(RunView(load_run(alone / FIXTURE.name)))
    assert not decision.decided and "no capacity run of model 'default'" in decision.evidence

    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results / FIXTURE.name)
    records = [record("fastapi_batcher"), record("flask_gunicorn", "failed")]
    writer = ResultWriter(results, RUN_ID)
    for r in records:
        writer.write_record(r)
    writer.write_header(capacity_run(records))
    decision = most_graceful(RunView(load_run(results / FIXTURE.name)))
    assert decision.decided and decision.answer == "fastapi_batcher"
    assert "at 2× its capacity of 100 req/s" in decision.evidence
    assert any(RUN_ID in c for c in decision.caveats)
    assert any(c.startswith("measured at commit") for c in decision.caveats)  # another commit
    assert "covers fastapi_batcher only" in decision.caveats


def test_what_to_avoid_lists_repeats_that_disagree_with_their_values(view: RunView) -> None:
    disagreeing = [c for c in view.cells.values() if bimodal(c)]
    assert disagreeing, "the fixture has a cell whose repeats differ more than twofold"
    decision = to_avoid(view)
    for c in disagreeing:
        assert c.stack in decision.answer
        assert f"{c.stack} at {users_text(c.users)} ({c.workload}): repeats disagree" in decision.evidence


def test_every_decision_is_made_once_in_order(view: RunView) -> None:
    assert [d.key for d in decisions(view)] == ["latency", "throughput", "memory", "overload", "avoid"]


def test_a_flagged_headline_carries_its_flags(view: RunView) -> None:
    text = headline(view)
    assert " peaks at " in text
    best = max((c for c in view.cells.values() if c.workload == view.workloads[0]),
               key=lambda c: c.rps.median if c.rps else 0.0)
    assert f"[{flag_text(view, best.flags)}]" in text
