from __future__ import annotations

from servebench.report.robustness import groups, robustness
from servebench.report.view import RunView
from servebench.results.schema import Check
from servebench.results.store import LoadedRun
from shared_model.cases import BAD


def _with_checks(loaded: LoadedRun, details: dict[str, tuple[bool, str]]) -> LoadedRun:
    stack = loaded.run.stacks[0]
    checks = [Check(name=f"bad_{c.name}", ok=details.get(c.name, (True, "pass: status ok"))[0],
                    detail=details.get(c.name, (True, "pass: status ok"))[1], group=c.group) for c in BAD]
    outcomes = [stack.model_copy(update={"checks": checks}), *loaded.run.stacks[1:]]
    return LoadedRun(loaded.root, loaded.run.model_copy(update={"stacks": outcomes}), loaded.records)


def test_every_case_lands_in_its_group_with_its_outcome(loaded: LoadedRun) -> None:
    schema_case = next(c for c in BAD if c.group == "schema")
    size_case = next(c for c in BAD if c.group == "size")
    view = RunView(_with_checks(loaded, {
        schema_case.name: (True, "declared: status 400, declared 400"),
        size_case.name: (False, "fail: status 500, declared 413"),
    }))
    row = robustness(view)[0]
    assert row.stack == loaded.run.stacks[0].stack
    assert set(row.cells) == set(groups(view)) == {c.group for c in BAD}
    assert sum(cell.total for cell in row.cells.values()) == len(BAD)
    assert row.cells["schema"].counts["declared"] == 1
    assert row.cells["size"].counts == {"fail": 1}
    assert not row.cells["size"].clean and row.cells["syntax"].clean
    assert len(row.problems) == 2


def test_status_only_records_count_by_their_verdict(loaded: LoadedRun) -> None:
    case = BAD[0]
    view = RunView(_with_checks(loaded, {case.name: (False, "status 500, declared 422")}))
    assert robustness(view)[0].cells[case.group].counts.get("fail") == 1

