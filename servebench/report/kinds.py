"""Pages of the robustness matrix and of a gate check, as data for their templates."""

from __future__ import annotations

from collections import Counter
from typing import Any

from servebench.results.kinds import CaseOutcome, CheckRecord, CheckRun, RobustnessRecord, RobustnessRun
from servebench.results.schema import SCHEMA_VERSION
from servebench.results.store import Loaded

OUTCOMES: tuple[CaseOutcome, ...] = ("pass", "declared", "undeclared", "fail")


def robustness_headline(loaded: Loaded[RobustnessRun, RobustnessRecord]) -> str:
    bad = [r.record_id for r in loaded.records if r.status != "ok"
           or any(c.outcome in ("undeclared", "fail") for c in r.cases)]
    return f"robustness of {len(loaded.records)} stacks: " + (
        f"undeclared or failing answers from {', '.join(bad)}" if bad else "every answer passed or declared")


def robustness_context(loaded: Loaded[RobustnessRun, RobustnessRecord]) -> dict[str, Any]:
    groups = list(dict.fromkeys(c.group for r in loaded.records for c in r.cases))
    rows = []
    for record in loaded.records:
        cells = {}
        for group in groups:
            counts = Counter(c.outcome for c in record.cases if c.group == group)
            cells[group] = (sum(counts.values()), {o: counts[o] for o in OUTCOMES if counts[o]})
        problems = [c for c in record.cases if c.outcome != "pass"]
        rows.append({"record": record, "cells": cells, "problems": problems,
                     "connection": {c.case: c for c in record.cases if c.detail}})
    # The connection-level cases, one column each (older results have none).
    connection = list(dict.fromkeys(c.case for r in loaded.records for c in r.cases if c.detail))
    return {"run": loaded.run, "groups": groups, "rows": rows, "headline": robustness_headline(loaded),
            "connection_cases": connection, "limits": [r for r in loaded.records if r.limits or
                                                       r.limits_status == "failed"],
            "reader_schema": SCHEMA_VERSION}


def check_headline(loaded: Loaded[CheckRun, CheckRecord]) -> str:
    run = loaded.run
    verdict = {0: "pass", 1: "REGRESSION", 2: "could not measure"}.get(run.exit_code or 0, "?")
    regressions = [f"{c.stack} {c.metric}" for c in run.comparisons if c.verdict == "REGRESSION"]
    return (f"gate {verdict}: {str(run.head_commit)[:12]} against {str(run.base_commit)[:12]}"
            + (f" ({', '.join(regressions)})" if regressions else ""))


def check_context(loaded: Loaded[CheckRun, CheckRecord]) -> dict[str, Any]:
    return {"run": loaded.run, "records": loaded.records, "headline": check_headline(loaded),
            "reader_schema": SCHEMA_VERSION}
