"""Re-render the generated parts of README.md: `make readme`.

The stacks table comes from the registry; the picture from the run committed in
docs/example-run/ (a real `make bench-quick` result, records and header only), so the README
shows measured numbers and says where they came from.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from servebench.commands.stacks import markdown_details, markdown_table
from servebench.report.stats import Cell
from servebench.report.view import RunView
from servebench.results.store import load_run

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLE_RUNS = ROOT / "docs" / "example-run"
PICTURE = ROOT / "docs" / "img" / "overview.svg"
STACKS_DOC = ROOT / "docs" / "stacks.md"


def overview(view: RunView) -> str:
    """Throughput and p99 of single predictions per stack at the run's highest level, as SVG
    with text kept as text."""
    users = max(view.users)
    cells: list[Cell] = [c for s in view.measured_stacks if (c := view.cell(s, "single", users))]
    run = view.loaded.run
    declared = run.stacks_declared
    colours = [declared[c.stack].colour if c.stack in declared else "#000" for c in cells]
    names = [c.stack for c in cells]
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "servebench", "font.size": 9}):
        figure, (rps, p99) = plt.subplots(1, 2, figsize=(9.5, 3.6))
        rps.barh(names, [c.rps.median if c.rps else 0 for c in cells], color=colours)
        rps.set_xlabel("single predictions per second (median)")
        p99.barh(names, [c.p99_ms.median if c.p99_ms else 0 for c in cells], color=colours)
        p99.set_xlabel("p99 latency, ms (median)")
        p99.set_yticklabels([])
        for axes in (rps, p99):
            axes.invert_yaxis()
            axes.grid(axis="x", alpha=0.3)
            axes.spines[["top", "right"]].set_visible(False)
        machine = run.machine
        figure.suptitle(f"{users} concurrent users, model {run.model.get('profile')}, "
                        f"{run.settings.measure_s:g} s windows x {run.settings.repeats} process(es); "
                        f"{machine.cores} cores ({machine.cpu_model}), run {run.run_id}", fontsize=8)
        figure.tight_layout()
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
        plt.close(figure)
    return out.getvalue()


def main() -> None:
    text = README.read_text()
    block = f"<!-- stacks:begin -->\n{markdown_table()}\n<!-- stacks:end -->"
    README.write_text(re.sub(r"<!-- stacks:begin -->.*?<!-- stacks:end -->", block, text, flags=re.S))
    STACKS_DOC.write_text(markdown_details())
    runs = sorted(p for p in EXAMPLE_RUNS.iterdir() if (p / "run.json").is_file())
    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    PICTURE.write_text(overview(RunView(load_run(runs[-1]))))


if __name__ == "__main__":
    main()
