"""The README's commands exist and the Makefile installs what they need."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_make_target_the_readme_names_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = set(re.findall(r"\bmake ([a-z][a-z-]+)", readme))
    assert {"bench-all", "test"} <= targets
    for target in sorted(targets):
        result = subprocess.run(
            ["make", "-n", "-C", str(ROOT), target], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"make {target}: {result.stderr}"


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_stacks_table_is_rendered_from_the_registry() -> None:
    from servebench.commands.stacks import markdown_table

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- stacks:begin -->\n(.*?)<!-- stacks:end -->", readme, re.S)
    assert block is not None
    assert block.group(1).strip() == markdown_table().strip(), "run: make readme"
