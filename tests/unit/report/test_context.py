from __future__ import annotations

from servebench.report.context import headline, run_context
from servebench.report.view import RunView
from servebench.results.store import LoadedRun
from tests.unit.report.conftest import with_failed_stack


def test_headline_names_the_best_peak_of_the_first_workload(view: RunView) -> None:
    first = view.workloads[0]
    best = max((c for c in view.cells.values() if c.workload == first and c.rps),
               key=lambda c: c.rps.median if c.rps else 0.0)
    assert best.rps
    assert headline(view).startswith(f"{first}: {best.stack} peaks at {best.rps.median:,.0f} req/s")


def test_headline_and_context_name_failed_stacks(loaded: LoadedRun) -> None:
    stack = loaded.run.stacks[1].stack
    view = RunView(with_failed_stack(loaded, stack))
    assert headline(view).endswith(f"; failed: {stack}")
    context = run_context(view)
    assert [o.stack for o in context["failed"]] == [stack]
    declared = view.loaded.run.stacks_declared
    assert declared[context["reference"]].role == "reference"  # flask_gunicorn, the baseline
    assert all(section["distribution_users"] == max(view.users) for section in context["workloads"])
