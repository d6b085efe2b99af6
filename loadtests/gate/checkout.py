"""The base commit as a source tree beside the working tree (a detached git worktree).

Both sides run from their own tree in the same virtual environment: the base's servers,
model code and registry are the base commit's, everything they import from site-packages is
today's. Trees are kept under .run/gate/ and reused by later checks of the same commit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from servers.process import REPO_ROOT

CACHE = REPO_ROOT / ".run" / "gate"


class BaseMissing(Exception):
    """The base commit is not in this clone and could not be fetched."""


def _git(*args: str, cwd: Path = REPO_ROOT, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check,
                          timeout=300)


def resolve(revision: str) -> str | None:
    """The full sha of a commit, or None when this clone does not have it."""
    found = _git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False)
    return found.stdout.strip() or None


def ensure_commit(revision: str) -> str:
    """The commit's sha, fetching it from the clone's remotes when a shallow clone lacks it."""
    sha = resolve(revision)
    if sha is not None:
        return sha
    remotes = _git("remote", check=False).stdout.split()
    for remote in remotes:
        _git("fetch", "--quiet", "--no-tags", remote, revision, check=False)
        sha = resolve(revision)
        if sha is not None:
            return sha
    shallow = _git("rev-parse", "--is-shallow-repository", check=False).stdout.strip() == "true"
    raise BaseMissing(
        f"the base commit {revision} is not in this clone"
        + (" (a shallow clone: `git fetch --unshallow`)" if shallow else "")
        + (f" and no remote ({', '.join(remotes)}) has it" if remotes else " and it has no remote")
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One preparer per tree at a time (parallel tests may check the same commit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def base_tree(revision: str, models: tuple[str, ...]) -> Path:
    """A worktree of the commit with its model artifacts trained by its own code."""
    sha = ensure_commit(revision)
    tree = CACHE / sha[:12]
    with _locked(tree):
        if not (tree / ".git").exists() or resolve_in(tree) != sha:
            if tree.exists():
                _git("worktree", "remove", "--force", str(tree), check=False)
                shutil.rmtree(tree, ignore_errors=True)
            _git("worktree", "prune")
            _git("worktree", "add", "--detach", "--force", str(tree), sha)
        for model in models:
            train(tree, model)
    return tree


def resolve_in(tree: Path) -> str | None:
    found = _git("rev-parse", "HEAD", cwd=tree, check=False)
    return found.stdout.strip() or None


def tree_env(tree: Path) -> dict[str, str]:
    """Environment under which a process imports the tree's own packages first."""
    # SERVEBENCH_ARTIFACTS would make both sides share one artifact directory.
    return {"PYTHONPATH": str(tree), "SERVEBENCH_ARTIFACTS": str(tree / "shared_model" / "artifacts")}


def train(tree: Path, model: str) -> None:
    """The tree's own training code writes the tree's own artifact (a no-op when present)."""
    env = {**os.environ, **tree_env(tree)}
    done = subprocess.run([sys.executable, "-m", "shared_model.training", "--profile", model],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise BaseMissing(f"training model {model!r} in {tree} failed: {done.stderr[-2000:]}")
