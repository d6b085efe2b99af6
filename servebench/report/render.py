"""Write report pages: templates live in servebench/report/templates, data comes from context.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from servebench.errors import UserError
from servebench.report import soak
from servebench.report.capacity import capacity_context
from servebench.report.capacity import headline as capacity_headline
from servebench.report.context import headline, run_context
from servebench.report.view import RunView
from servebench.results.capacity import LoadedCapacityRun, load_capacity_run
from servebench.results.store import LoadedRun, load_run

TEMPLATES = Path(__file__).parent / "templates"


def environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(**context)


CAPACITY_PREFIX = "capacity-"


def started(path: Path) -> str:
    """Sort key: run ids start with their UTC start time, capacity runs after a prefix."""
    return path.name.removeprefix(CAPACITY_PREFIX)


def run_dirs(results_dir: Path) -> list[Path]:
    """Run directories, newest first (run ids start with their UTC start time)."""
    if not results_dir.is_dir():
        return []
    return sorted((p for p in results_dir.iterdir() if (p / "run.json").is_file()),
                  key=lambda p: p.name, reverse=True)


def capacity_dirs(results_dir: Path) -> list[Path]:
    """Capacity run directories (capacity.json), newest first."""
    if not results_dir.is_dir():
        return []
    return sorted((p for p in results_dir.iterdir() if (p / "capacity.json").is_file()),
                  key=started, reverse=True)


def soak_dirs(results_dir: Path) -> list[Path]:
    """Soak run directories (soak.json), newest first: their ids start with the UTC start time."""
    if not results_dir.is_dir():
        return []
    return sorted((p for p in results_dir.iterdir() if (p / "soak.json").is_file()),
                  key=started, reverse=True)


def all_dirs(results_dir: Path) -> list[Path]:
    """Closed-loop, capacity and soak runs together, newest first."""
    return sorted([*run_dirs(results_dir), *capacity_dirs(results_dir), *soak_dirs(results_dir)],
                  key=started, reverse=True)


# What marks a results directory as each kind of run, by the file its command writes first.
MARKERS = {"run": "run.json", "capacity": "capacity.json", "soak": "soak.json"}


def kind_of(root: Path) -> str | None:
    return next((kind for kind, name in MARKERS.items() if (root / name).is_file()), None)


def resolve_run(results_dir: Path, wanted: str) -> Path:
    """A closed-loop run directory by id, path or 'latest'."""
    if wanted == "latest":
        runs = run_dirs(results_dir)
        if not runs:
            raise UserError(f"no runs in {results_dir}; measure first with `servebench run`")
        return runs[0]
    for candidate in (Path(wanted), results_dir / wanted):
        kind = kind_of(candidate)
        if kind == "run":
            return candidate
        if kind is not None:
            raise UserError(f"{candidate.name} is a {kind} run; this command reads closed-loop runs only")
    raise UserError(f"no run {wanted!r} in {results_dir} (see `ls {results_dir}`)")


LATEST = {"latest": all_dirs, "latest-capacity": capacity_dirs, "latest-soak": soak_dirs}


def resolve_any(results_dir: Path, wanted: str) -> tuple[str, Path]:
    """(kind, directory) by id, path, 'latest' (any kind), 'latest-capacity' or 'latest-soak'."""
    if wanted in LATEST:
        runs = LATEST[wanted](results_dir)
        if not runs:
            which = wanted.removeprefix("latest").removeprefix("-")
            raise UserError(f"no {which + ' ' if which else ''}runs in {results_dir}; measure first "
                            "with `servebench run`, `servebench capacity` or `servebench soak`")
        return kind_of(runs[0]) or "run", runs[0]
    for candidate in (Path(wanted), results_dir / wanted):
        kind = kind_of(candidate)
        if kind is not None:
            return kind, candidate
    raise UserError(f"no run {wanted!r} in {results_dir} (see `ls {results_dir}`)")


def write_capacity_report(loaded: LoadedCapacityRun, reports_dir: Path) -> Path:
    out = reports_dir / loaded.run.run_id / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render("capacity.html", capacity_context(loaded)))
    return out


def write_soak_report(loaded: soak.LoadedSoak, reports_dir: Path) -> Path:
    out = reports_dir / loaded.run.run_id / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render("soak.html", soak.soak_context(loaded)))
    return out


def write_run_report(loaded: LoadedRun, reports_dir: Path, reference: str | None = None,
                     distribution_users: int | None = None) -> Path:
    view = RunView(loaded)
    if reference is not None and reference not in view.measured_stacks:
        raise UserError(f"reference stack {reference!r} was not measured in {view.run_id} "
                        f"(measured: {', '.join(view.measured_stacks) or 'none'})")
    if distribution_users is not None and distribution_users not in view.users:
        raise UserError(f"{view.run_id} has no level of {distribution_users} users (levels: {view.users})")
    out = reports_dir / view.run_id / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render("run.html", run_context(view, reference, distribution_users)))
    return out


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
    kind: str = "run"  # run (closed loop), capacity (open loop) or soak


def capacity_entry(root: Path, link: str | None) -> IndexEntry:
    try:
        loaded = load_capacity_run(root)
    except (UserError, ValueError, OSError) as error:
        return IndexEntry(root.name, "", "", "", "", str(error), "unreadable", link, "capacity")
    r = loaded.run
    commit = (r.git_commit or "unknown")[:12] + (" (dirty)" if r.git_dirty else "")
    return IndexEntry(r.run_id, r.started_at[:19].replace("T", " "), commit, ", ".join(r.settings.models),
                      ", ".join(dict.fromkeys(rec.stack for rec in loaded.records)) or "–",
                      capacity_headline(loaded), r.status, link, "capacity")


def soak_entry(root: Path, link: str | None) -> IndexEntry:
    try:
        loaded = soak.load(root)
    except (UserError, ValueError, OSError) as error:
        return IndexEntry(root.name, "", "", "", "", str(error), "unreadable", link, "soak")
    r = loaded.run
    commit = (r.git_commit or "unknown")[:12] + (" (dirty)" if r.git_dirty else "")
    return IndexEntry(r.run_id, r.started_at[:19].replace("T", " "), commit, r.model.get("profile", "?"),
                      ", ".join(r.stacks) or "–", soak.headline(loaded), r.status, link, "soak")


def index_entry(root: Path, reports_dir: Path) -> IndexEntry:
    page = reports_dir / root.name / "index.html"
    link = f"{root.name}/index.html" if page.is_file() else None
    if (root / "capacity.json").is_file():
        return capacity_entry(root, link)
    if (root / "soak.json").is_file():
        return soak_entry(root, link)
    try:
        run = load_run(root)
    except UserError as error:  # an unreadable run is listed with the reason, not hidden
        return IndexEntry(root.name, "", "", "", "", str(error), "unreadable", link)
    r = run.run
    commit = (r.git_commit or "unknown")[:12] + (" (dirty)" if r.git_dirty else "")
    return IndexEntry(r.run_id, r.started_at[:19].replace("T", " "), commit, r.model.get("profile", "?"),
                      ", ".join(o.stack for o in r.stacks) or "–", headline(RunView(run)), r.status, link)


def write_index(results_dir: Path, reports_dir: Path) -> Path:
    entries = [index_entry(root, reports_dir) for root in all_dirs(results_dir)]
    out = reports_dir / "index.html"
    reports_dir.mkdir(parents=True, exist_ok=True)
    out.write_text(render("index.html", {"entries": entries}))
    return out
