from __future__ import annotations

from pathlib import Path

import pytest

from servebench.report.view import RunView
from servebench.results.store import LoadedRun, load_run

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "runs" / "20261124T112007Z-475d792eaf30"


@pytest.fixture(scope="session")
def loaded() -> LoadedRun:
    return load_run(FIXTURE)


@pytest.fixture
def view(loaded: LoadedRun) -> RunView:
    return RunView(loaded)


def with_failed_stack(loaded: LoadedRun, stack: str, log_tail: str = "Traceback: boom") -> LoadedRun:
    """The fixture as if `stack` had died after its first measurement."""
    run = loaded.run
    keep = [r for r in loaded.records if r.stack != stack] + \
           [r for r in loaded.records if r.stack == stack][:1]
    outcomes = [o.model_copy(update={"status": "failed", "reason": "died during a measurement",
                                     "log_tail": log_tail, "records": o.records[:1]})
                if o.stack == stack else o for o in run.stacks]
    return LoadedRun(loaded.root, run.model_copy(update={"stacks": outcomes}), keep)


def with_flag(loaded: LoadedRun, record_id: str, flag: str) -> LoadedRun:
    records = [r.model_copy(update={"flags": [*r.flags, flag], "generator_bound": flag == "generator_bound"})
               if r.record_id == record_id else r for r in loaded.records]
    return LoadedRun(loaded.root, loaded.run, records)


@pytest.fixture(scope="session")
def rendered(loaded: LoadedRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture run's page, rendered once for the tests that only read it."""
    from servebench.report.render import write_run_report

    return write_run_report(loaded, tmp_path_factory.mktemp("reports"))
