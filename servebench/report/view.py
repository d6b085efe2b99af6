"""A loaded run arranged for reading: its stacks, workloads, levels and per-level cells."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from servebench.report.stats import Cell, cells
from servebench.results.schema import FLOOR, Record, StackOutcome
from servebench.results.store import LoadedRun
from servebench.results.summary import Spread


@dataclass(frozen=True)
class RunView:
    loaded: LoadedRun

    @property
    def run_id(self) -> str:
        return self.loaded.run.run_id

    @cached_property
    def cells(self) -> dict[tuple[str, str, int], Cell]:
        return cells(self.stack_records)

    @cached_property
    def stack_records(self) -> list[Record]:
        """The stacks' records; the floor's (the harness's own latency) are kept apart."""
        return [r for r in self.loaded.records if r.stack != FLOOR]

    @cached_property
    def floor_records(self) -> list[Record]:
        return [r for r in self.loaded.records if r.stack == FLOOR]

    @cached_property
    def outcomes(self) -> dict[str, StackOutcome]:
        return {o.stack: o for o in self.loaded.run.stacks}

    @cached_property
    def stacks(self) -> list[str]:
        """Every stack the run set out to measure, in run order; a stack never reached stays listed."""
        planned = self.loaded.run.settings.stacks
        return list(self.outcomes) + [s for s in planned if s not in self.outcomes]

    @cached_property
    def measured_stacks(self) -> list[str]:
        return [s for s in self.stacks if any(key[0] == s for key in self.cells)]

    @cached_property
    def workloads(self) -> list[str]:
        planned = self.loaded.run.settings.workloads
        seen = {key[1] for key in self.cells}
        return [w for w in planned if w in seen] + sorted(seen - set(planned))

    @cached_property
    def users(self) -> list[int]:
        return sorted({key[2] for key in self.cells} | set(self.loaded.run.settings.users))

    @cached_property
    def batch_workloads(self) -> frozenset[str]:
        """Workloads of batches only: their throughput is counted in predicted rows, the unit that
        compares across batch sizes, not in requests. A mix (seed_mix) stays in requests: its
        single predictions and probes are most of what it sends."""
        return frozenset(r.workload for r in self.stack_records if set(r.measured.kinds) == {"batch"})

    def counts_rows(self, workload: str) -> bool:
        return workload in self.batch_workloads

    def rate(self, cell: Cell) -> Spread | None:
        """The cell's throughput in its workload's unit (rows/s for batches, else requests/s)."""
        return cell.rows_per_s if self.counts_rows(cell.workload) else cell.rps

    def rate_unit(self, workload: str) -> str:
        return "rows/s" if self.counts_rows(workload) else "req/s"

    def cell(self, stack: str, workload: str, users: int) -> Cell | None:
        return self.cells.get((stack, workload, users))

    def stack_cells(self, stack: str, workload: str) -> list[Cell]:
        return [c for u in self.users if (c := self.cell(stack, workload, u)) is not None]

    def title(self, stack: str) -> str:
        outcome = self.outcomes.get(stack)
        return outcome.title if outcome else stack

    def status(self, stack: str) -> str:
        outcome = self.outcomes.get(stack)
        return outcome.status if outcome else "not run"

    def flagged(self) -> list[Record]:
        return [r for r in self.stack_records if r.flags]
