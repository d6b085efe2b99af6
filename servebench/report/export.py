"""CSV export: every table of a page also written as a CSV file beside it, numbers unformatted
(medians with their low and high, counts as counts) so that they can be read by a program."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from servebench.results.summary import Spread

CSV_DIR = "csv"

Value = str | int | float | None


@dataclass(frozen=True)
class Table:
    name: str  # the file's stem, unique within a page's directory
    header: list[str]
    rows: list[list[Value]]

    @property
    def href(self) -> str:
        return f"{CSV_DIR}/{self.name}.csv"

    def text(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows([["" if v is None else v for v in row] for row in self.rows])
        return out.getvalue()


def spread(name: str) -> list[str]:
    """Column names of a median with its range over repeats."""
    return [f"{name} median", f"{name} low", f"{name} high", f"{name} repeats"]


def values(s: Spread | None, digits: int = 4) -> list[Value]:
    if s is None:
        return [None, None, None, 0]
    return [round(s.median, digits), round(s.low, digits), round(s.high, digits), s.n]


def write_tables(page_dir: Path, tables: Sequence[Table]) -> None:
    """Each table as <page_dir>/csv/<name>.csv; two tables of one name would overwrite, so refuse."""
    names = [t.name for t in tables]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"two tables named {duplicated}")
    directory = page_dir / CSV_DIR
    directory.mkdir(parents=True, exist_ok=True)
    for table in tables:
        (directory / f"{table.name}.csv").write_text(table.text())
