from __future__ import annotations

from servebench.report.compare import NOT_SIGNIFICANT, SIGNIFICANT, Change, deltas, differences
from servebench.report.view import RunView
from servebench.results.store import LoadedRun
from servebench.results.summary import Spread


def test_a_run_against_itself_changes_nothing(view: RunView) -> None:
    rows = deltas(view, view)
    assert len(rows) == len(view.cells)
    assert all(r.rps.relative == 0 and r.rps.significance == NOT_SIGNIFICANT for r in rows)
    assert differences(view.loaded.run, view.loaded.run) == []


def test_significant_changes_know_which_way_is_better() -> None:
    faster = Change(Spread(100, 95, 105, 3), Spread(150, 140, 160, 3), SIGNIFICANT, higher_is_better=True)
    slower_p99 = Change(Spread(10, 9, 11, 3), Spread(15, 14, 16, 3), SIGNIFICANT, higher_is_better=False)
    assert faster.better is True and faster.text() == "+50.0 % *"
    assert slower_p99.better is False


def test_setup_differences_are_warned_about(loaded: LoadedRun) -> None:
    a = loaded.run
    b = a.model_copy(update={
        "machine": a.machine.model_copy(update={"cores": 64}),
        "settings": a.settings.model_copy(update={"server_cpus": [3]}),
        "model": {**a.model, "profile": "heavy", "sha256": "0" * 64},
        "packages": {**a.packages, "fastapi": "0.0.1"},
    })
    warnings = " | ".join(differences(a, b))
    for expected in ("machine differs: cores 2 → 64", "pinning differs", "model differs",
                     "package versions differ: fastapi"):
        assert expected in warnings


def test_cells_in_one_run_only_are_kept(loaded: LoadedRun) -> None:
    fewer = LoadedRun(loaded.root, loaded.run, [r for r in loaded.records if r.users != 16])
    rows = deltas(RunView(fewer), RunView(loaded))
    assert {r.note for r in rows if r.users == 16} == {"only in B"}
