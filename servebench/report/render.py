"""Write report pages: templates live in servebench/report/templates, data comes from context.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from servebench.errors import UserError
from servebench.report import soak
from servebench.report.capacity import capacity_context
from servebench.report.capacity import headline as capacity_headline
from servebench.report.context import headline, run_context
from servebench.report.kinds import check_context, check_headline, robustness_context, robustness_headline
from servebench.report.view import RunView
from servebench.results.capacity import CapacityRecord, CapacityRun
from servebench.results.kinds import CheckRun
from servebench.results.schema import RunHeader
from servebench.results.store import Loaded, kind_of, load, result_dirs

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
                 distribution_users: int | None = None) -> Path:
    """The page of a result directory of any kind."""
    return write_loaded(load(root), reports_dir, reference, distribution_users)


def write_loaded(loaded: Loaded[Any, Any], reports_dir: Path, reference: str | None = None,
                 distribution_users: int | None = None) -> Path:
    """The page of a loaded result of any kind."""
    kind = loaded.run.kind
    if kind != "run" and (reference or distribution_users):
        raise UserError(f"--reference and --users apply to closed-loop runs, not {kind} runs")
    if kind == "run":
        return write_run_report(loaded, reports_dir, reference, distribution_users)
    contexts: dict[str, Callable[[Any], dict[str, Any]]] = {
        "capacity": capacity_context, "soak": soak.soak_context, "robustness": robustness_context,
        "check": check_context}
    context = contexts[kind](loaded)
    return _write(reports_dir, loaded.run.run_id, f"{kind}.html", context)


def write_run_report(loaded: Loaded[Any, Any], reports_dir: Path, reference: str | None = None,
                     distribution_users: int | None = None) -> Path:
    view = RunView(loaded)
    if reference is not None and reference not in view.measured_stacks:
        raise UserError(f"reference stack {reference!r} was not measured in {view.run_id} "
                        f"(measured: {', '.join(view.measured_stacks) or 'none'})")
    if distribution_users is not None and distribution_users not in view.users:
        raise UserError(f"{view.run_id} has no level of {distribution_users} users (levels: {view.users})")
    return _write(reports_dir, view.run_id, "run.html", run_context(view, reference, distribution_users))


@dataclass(frozen=True)
class IndexEntry:
    run_id: str
    started_at: str
    commit: str
    model: str
    stacks: str
    headline: str
    status: str
    report: str | None  # relative link, when rendered
    kind: str = "run"  # run (closed loop), capacity (open loop), soak, robustness or check


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


def index_entry(root: Path, reports_dir: Path) -> IndexEntry:
    page = reports_dir / root.name / "index.html"
    link = f"{root.name}/index.html" if page.is_file() else None
    kind = kind_of(root) or "run"
    try:
        loaded = load(root)
    except (UserError, ValueError, OSError) as error:  # listed with the reason, never hidden
        return IndexEntry(root.name, "", "", "", "", str(error), "unreadable", link, kind)
    r = loaded.run
    commit = (r.git_commit or "unknown")[:12] + (" (dirty)" if r.git_dirty else "")
    return IndexEntry(r.run_id, r.started_at[:19].replace("T", " "), commit, _model(r),
                      _stacks(loaded), HEADLINES[kind](loaded), r.status, link, kind)


def write_index(results_dir: Path, reports_dir: Path) -> Path:
    entries = [index_entry(root, reports_dir) for root in result_dirs(results_dir)]
    out = reports_dir / "index.html"
    reports_dir.mkdir(parents=True, exist_ok=True)
    out.write_text(render("index.html", {"entries": entries}))
    return out
