from __future__ import annotations

from servebench.report.view import RunView
from servebench.results.store import LoadedRun


def test_the_ceiling_share_needs_both_workloads(loaded: LoadedRun) -> None:
    from servebench.report.ceiling import ceiling_rows

    view = RunView(loaded)
    assert "ceiling" not in view.workloads
    assert ceiling_rows(view) == []
    stack = view.measured_stacks[0]
    probes = [r.model_copy(update={"workload": "ceiling",
                                   "measured": r.measured.model_copy(update={"rps": r.measured.rps * 4})})
              for r in loaded.records if r.stack == stack and r.workload == "single"]
    (row,) = ceiling_rows(RunView(LoadedRun(loaded.root, loaded.run, [*loaded.records, *probes])))
    assert row.stack == stack and abs(row.share - 0.25) < 1e-9
