"""docs/adding-a-stack.md, followed literally: its two code blocks, pasted into a copy of this
checkout, are the only files that change, and the new stack passes the contract suite, the
verification and a short run there."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from servebench.results.store import load_run
from servers.process import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "adding-a-stack.md"
SKIP = {".git", ".venv", ".run", "results", "reports", "__pycache__", ".pytest_cache", ".ruff_cache",
        ".mypy_cache"}


def _copy(target: Path) -> None:
    shutil.copytree(REPO_ROOT, target, ignore=lambda _, names: [
        n for n in names if n in SKIP or n.startswith(".venv-") or n.endswith(".egg-info")])


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def _follow_the_guide(root: Path) -> str:
    """Paste the guide's module and registry entry where it says; returns the stack's name."""
    module, entry = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    name = re.search(r'name="(\w+)"', entry)
    assert name is not None
    (root / "servers" / f"{name.group(1)}.py").write_text(module)
    registry = root / "servers" / "registry.py"
    text = registry.read_text()
    end = text.index("\n)\n\nSTACKS: Mapping")  # the end of _STACK_LIST
    registry.write_text(text[:end] + "\n" + entry.rstrip("\n") + text[end:])
    return name.group(1)


def test_a_stack_added_as_the_guide_says_gets_the_contract_suite_and_a_run(tmp_path: Path) -> None:
    copy = tmp_path / "checkout"
    _copy(copy)
    before = _digests(copy)
    name = _follow_the_guide(copy)
    after = _digests(copy)
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    assert changed == {f"servers/{name}.py", "servers/registry.py"}

    env = {**os.environ, "PYTHONPATH": str(copy)}
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", name,
         "tests/integration/test_contract.py", "tests/integration/test_lifecycle.py"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-3000:]
    assert re.search(r"\d+ passed", suite.stdout) and " failed" not in suite.stdout

    results = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, "-m", "servebench.cli", "run", "--profile", "quick", "--stacks", name,
         "--workloads", "single", "--users", "2", "--warmup-s", "0.5", "--measure-s", "1",
         "--results-dir", str(results), "--no-report"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (root,) = results.iterdir()
    loaded = load_run(root)
    (outcome,) = loaded.run.stacks
    assert outcome.stack == name and outcome.status == "ok"
    assert outcome.checks and all(c.ok for c in outcome.checks)  # verified in full, bad inputs too
    assert any(c.group == "size" for c in outcome.checks)
    assert loaded.run.stacks_declared[name].role == "peer"
    (record,) = [r for r in loaded.records if r.stack == name]
    assert record.measured.requests > 0 and record.measured.failures == {}
