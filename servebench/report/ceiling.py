"""Each stack's prediction throughput as a share of its own framework ceiling.

The `ceiling` workload sends liveness probes only: no body to parse, no model. What a stack
answers there bounds what any prediction path on the same server can reach, so the share
says how much of the framework's own capacity the prediction path keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from servebench.report.stats import peak
from servebench.report.view import RunView

CEILING = "ceiling"
PREDICTION = "single"


@dataclass(frozen=True)
class CeilingRow:
    stack: str
    predictions_rps: float  # peak median over levels
    predictions_users: int
    ceiling_rps: float
    ceiling_users: int
    share: float  # predictions / ceiling
    flagged: bool  # a flag on either cell: read with care


def ceiling_rows(view: RunView) -> list[CeilingRow]:
    rows = []
    for stack in view.measured_stacks:
        single, ceiling = peak(view.stack_cells(stack, PREDICTION)), peak(view.stack_cells(stack, CEILING))
        if single is None or ceiling is None or single.rps is None or ceiling.rps is None:
            continue
        rows.append(CeilingRow(
            stack=stack, predictions_rps=single.rps.median, predictions_users=single.users,
            ceiling_rps=ceiling.rps.median, ceiling_users=ceiling.users,
            share=single.rps.median / ceiling.rps.median if ceiling.rps.median else 0.0,
            flagged=bool(single.flags or ceiling.flags),
        ))
    return sorted(rows, key=lambda r: -r.share)
