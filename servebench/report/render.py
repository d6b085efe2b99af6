"""Write report pages: templates live in servebench/report/templates, data comes from context.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from servebench.errors import UserError
from servebench.report import soak
from servebench.report.capacity import capacity_context
from servebench.report.capacity import headline as capacity_headline
from servebench.report.compare import compare_context
from servebench.report.context import headline, run_context
from servebench.report.export import write_tables
from servebench.report.kinds import check_context, check_headline, robustness_context, robustness_headline
from servebench.report.stackpage import stack_context
from servebench.report.view import RunView
from servebench.results.capacity import CapacityRecord, CapacityRun
from servebench.results.kinds import CheckRun
from servebench.results.schema import FLOOR, Record, Run, RunHeader
from servebench.results.soak_schema import SoakRun
from servebench.results.store import MODELS, Loaded, kind_of, load, result_dirs

TEMPLATES = Path(__file__).parent / "templates"


def environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(**context)


def _latest(results_dir: Path, kind: str | None) -> Path:
    runs = [p for p in result_dirs(results_dir) if kind is None or kind_of(p) == kind]
    if not runs:
        which = f"{kind} " if kind else ""
        raise UserError(f"no {which}results in {results_dir}; measure first with `servebench run` (or "
                        "capacity, soak, robustness, check)")
    return runs[0]


def resolve_run(results_dir: Path, wanted: str) -> Path:
    """A closed-loop run directory by id, path or 'latest'."""
    kind, root = resolve_any(results_dir, wanted if wanted != "latest" else "latest-run")
    if kind != "run":
        raise UserError(f"{root.name} is a {kind} run; this command reads closed-loop runs only")
    return root


def resolve_any(results_dir: Path, wanted: str) -> tuple[str, Path]:
    """(kind, directory) by id, path, 'latest' (any kind) or 'latest-<kind>'."""
    if wanted == "latest" or wanted.startswith("latest-"):
        root = _latest(results_dir, wanted.removeprefix("latest").removeprefix("-") or None)
        return kind_of(root) or "run", root
    for candidate in (Path(wanted), results_dir / wanted):
        kind = kind_of(candidate)
        if kind is not None:
            return kind, candidate
    raise UserError(f"no run {wanted!r} in {results_dir} (see `ls {results_dir}`)")


def _write(reports_dir: Path, run_id: str, template: str, context: dict[str, Any]) -> Path:
    out = reports_dir / run_id / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(template, context))
    return out


def write_report(root: Path, reports_dir: Path, reference: str | None = None,
                 distribution_users: int | None = None, budget_ms: float | None = None) -> Path:
    """The page of a result directory of any kind."""
    return write_loaded(load(root), reports_dir, reference, distribution_users, budget_ms)


def write_loaded(loaded: Loaded[Any, Any], reports_dir: Path, reference: str | None = None,
                 distribution_users: int | None = None, budget_ms: float | None = None) -> Path:
    """The page of a loaded result of any kind."""
    kind = loaded.run.kind
    if kind != "run" and (reference or distribution_users or budget_ms is not None):
        raise UserError(f"--reference, --users and --p99-budget-ms apply to closed-loop runs, "
                        f"not {kind} runs")
    if kind == "run":
        return write_run_report(loaded, reports_dir, reference, distribution_users, budget_ms)
    contexts: dict[str, Callable[[Any], dict[str, Any]]] = {
        "capacity": capacity_context, "soak": soak.soak_context, "robustness": robustness_context,
        "check": check_context}
    context = contexts[kind](loaded)
    return _write(reports_dir, loaded.run.run_id, f"{kind}.html", context)


def write_run_report(loaded: Loaded[Any, Any], reports_dir: Path, reference: str | None = None,
                     distribution_users: int | None = None, budget_ms: float | None = None) -> Path:
    """The run's page, a page per measured stack, and every table of them as CSV."""
    view = RunView(loaded)
    if reference is not None and reference not in view.measured_stacks:
        raise UserError(f"reference stack {reference!r} was not measured in {view.run_id} "
                        f"(measured: {', '.join(view.measured_stacks) or 'none'})")
    if distribution_users is not None and distribution_users not in view.users:
        raise UserError(f"{view.run_id} has no level of {distribution_users} users (levels: {view.users})")
    page_dir = reports_dir / view.run_id
    context = run_context(view, reference, distribution_users, page_dir, budget_ms)
    tables = list(context["tables"].values())
    for stack, name in context["stack_pages"].items():
        stack_page = stack_context(view, stack, page_dir)
        tables += stack_page["tables"].values()
        page_dir.mkdir(parents=True, exist_ok=True)
        (page_dir / name).write_text(render("stack.html", stack_page))
    write_tables(page_dir, tables)
    return _write(reports_dir, view.run_id, "run.html", context)


@dataclass(frozen=True)
class IndexEntry:
    run_id: str
    started_at: str
    commit: str
    model: str
    stacks: str
    headline: str
    status: str  # complete, running, interrupted; unreadable or not a result
    report: str | None  # relative link, when rendered
    kind: str = "run"  # run (closed loop), capacity (open loop), soak, robustness or check
    profile: str = "–"  # the run profile, or the kind's own main settings
    generator: str = "–"
    flags: str = ""  # each flag's code and how many measurements carry it
    problem: str = ""  # why the page is missing or the directory unreadable
    compare: tuple[str, str] | None = None  # (link, older run id) of the same profile and model


HEADLINES = {
    "run": lambda loaded: headline(RunView(loaded)), "capacity": capacity_headline, "soak": soak.headline,
    "robustness": robustness_headline, "check": check_headline,
}


def _model(run: RunHeader) -> str:
    if isinstance(run, CapacityRun):
        return ", ".join(run.settings.models)
    if isinstance(run, CheckRun):
        return run.settings.model
    model: dict[str, str] = getattr(run, "model", {})  # run, soak and robustness results
    return model.get("profile", "?")


def _stacks(loaded: Loaded[Any, Any]) -> str:
    records = loaded.records
    if records and isinstance(records[0], CapacityRecord):
        return ", ".join(dict.fromkeys(r.stack for r in records)) or "–"
    return ", ".join(loaded.run.stacks_declared) or "–"


def _profile(run: RunHeader) -> str:
    """The run profile, or what sets a run of another kind apart from others of its kind."""
    if isinstance(run, Run):
        s = run.settings
        return f"{s.profile} ({', '.join(map(str, s.users))} users, {s.measure_s:g} s × {s.repeats})"
    if isinstance(run, CapacityRun):
        return f"{run.settings.workload}, p99 SLO {run.settings.slo_ms:g} ms"
    if isinstance(run, SoakRun):
        return f"{run.settings.workload}, {run.settings.duration_s:g} s"
    if isinstance(run, CheckRun):
        return f"gate, {run.settings.rounds} rounds"
    return "–"


def _generator(loaded: Loaded[Any, Any]) -> str:
    """The generators that measured, as the records name them; else the one the run chose."""
    used = dict.fromkeys(g for r in loaded.records if isinstance(g := getattr(r, "generator", None), str))
    if used:
        return ", ".join(used)
    chosen = getattr(getattr(loaded.run, "settings", None), "generator", None)
    return chosen if isinstance(chosen, str) else ", ".join(loaded.run.generators) or "–"


def _flags(loaded: Loaded[Any, Any]) -> str:
    """How many measurements carry each flag, by the flag's code."""
    counts: dict[str, int] = {}
    for record in loaded.records:
        if isinstance(record, Record) and record.stack == FLOOR:
            continue
        units = record.steps if isinstance(record, CapacityRecord) else [record]
        for unit in units:
            for flag in getattr(unit, "flags", []):
                counts[flag] = counts.get(flag, 0) + 1
    codes = loaded.run.judging.flags
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    return " ".join(f"{codes[f].code if f in codes else f}×{n}" for f, n in ordered)


def index_entry(root: Path, reports_dir: Path, render_missing: bool = True) -> tuple[IndexEntry, Any]:
    """The index row of a result directory, and what was loaded (None if nothing could be); a page
    not rendered yet is rendered, and a failure to is shown in the row, never hidden."""
    page = reports_dir / root.name / "index.html"
    kind = kind_of(root)
    if kind is None:
        headers = ", ".join(f"{k}.json" for k in MODELS)
        return IndexEntry(root.name, "", "", "", "", "", "not a result", None, "–",
                          problem=f"none of {headers}"), None
    try:
        loaded = load(root)
    except (UserError, ValueError, OSError) as error:  # listed with the reason, never hidden
        return IndexEntry(root.name, "", "", "", "", "", "unreadable", None, kind, problem=str(error)), None
    problem = ""
    if render_missing and not page.is_file():
        try:
            write_loaded(loaded, reports_dir)
        except Exception as error:  # one page that cannot be drawn must not cost the index
            problem = f"not rendered: {type(error).__name__}: {error}"
    r = loaded.run
    commit = (r.git_commit or "unknown")[:12] + (" (dirty)" if r.git_dirty else "")
    link = f"{root.name}/index.html" if page.is_file() else None
    return IndexEntry(r.run_id, r.started_at[:19].replace("T", " "), commit, _model(r), _stacks(loaded),
                      HEADLINES[kind](loaded), r.status, link, kind, _profile(r), _generator(loaded),
                      _flags(loaded), problem), loaded


def _compare(older: Loaded[Any, Any], newer: Loaded[Any, Any], reports_dir: Path) -> str:
    """The comparison page of two runs of the same profile, rendered if missing; its link from
    the index."""
    name = f"{older.run.run_id}__{newer.run.run_id}.html"
    out = reports_dir / "compare" / name
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render("compare.html", compare_context(RunView(older), RunView(newer))))
    return f"compare/{name}"


def _same_setup(a: Loaded[Any, Any], b: Loaded[Any, Any]) -> bool:
    """Two closed-loop runs of the same profile and model: their numbers can be set side by side."""
    if not (isinstance(a.run, Run) and isinstance(b.run, Run)):
        return False
    def setup(run: Run) -> tuple[str, str | None]:
        return run.settings.profile, run.model.get("profile")

    return setup(a.run) == setup(b.run)


def write_index(results_dir: Path, reports_dir: Path, render_missing: bool = True) -> Path:
    """Every directory in results/, newest first, whatever its kind or state; each closed-loop run
    linked to a comparison with the previous run of the same profile and model."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    rows = [index_entry(root, reports_dir, render_missing) for root in _all_dirs(results_dir)]
    entries = []
    for i, (entry, loaded) in enumerate(rows):
        older = next((other for _, other in rows[i + 1:] if loaded is not None and other is not None
                      and _same_setup(other, loaded)), None)
        if older is not None:
            try:
                entry = replace(entry, compare=(_compare(older, loaded, reports_dir), older.run.run_id))
            except Exception as error:  # shown in the row, like a page that could not be drawn
                entry = replace(entry, problem=f"comparison not rendered: {type(error).__name__}: {error}")
        entries.append(entry)
    out = reports_dir / "index.html"
    out.write_text(render("index.html", {"entries": entries}))
    return out


def _all_dirs(results_dir: Path) -> list[Path]:
    """Result directories newest first, then any other directory in results/ (listed as such)."""
    if not results_dir.is_dir():
        return []
    found = result_dirs(results_dir)
    return found + sorted(p for p in results_dir.iterdir() if p.is_dir() and p not in found)
