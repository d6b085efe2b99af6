"""docs/service.md names only make targets that exist, and its stack block covers every stack."""

from __future__ import annotations

import re

from servebench.deploy import docs, files
from servers.process import REPO_ROOT
from servers.registry import STACKS

DOC = REPO_ROOT / files.DOCS_FILE


def make_targets() -> set[str]:
    makefile = (REPO_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-zA-Z][\w-]*):", makefile, flags=re.MULTILINE))


def test_every_make_target_named_in_the_doc_exists() -> None:
    # `make install model` names two targets; `make serve STACK=x` one (variables are upper case).
    runs = re.findall(r"\bmake ((?:[a-z][\w-]* ?)+)", DOC.read_text())
    named = {word for run in runs for word in run.split()}
    assert {"serve", "monitor", "compose", "image", "sysdeps"} <= named
    assert named <= make_targets(), sorted(named - make_targets())


def test_stack_block_names_every_stack_and_its_container_variables() -> None:
    text = DOC.read_text()
    block = text[text.index(docs.BEGIN) : text.index(docs.END)]
    for stack in STACKS.values():
        assert f"#### `{stack.name}`" in block
        assert f"--profile {stack.name} " in block
        for knob in stack.knobs:
            assert f"`SERVEBENCH_KNOB_{knob.upper()}`" in block
