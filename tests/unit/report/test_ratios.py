from __future__ import annotations

from servebench.report.ratios import reference_stack, sentences
from servebench.report.view import RunView


def test_reference_defaults_to_the_first_measured_stack(view: RunView) -> None:
    assert reference_stack(view) == view.measured_stacks[0]
    assert reference_stack(view, "no_such_stack") is None


def test_sentences_state_the_ratio_of_medians(view: RunView) -> None:
    ref, other = view.measured_stacks[0], view.measured_stacks[-1]
    said = {(s.stack, s.users): s for s in sentences(view, "single", ref)}
    mine, theirs = view.cell(other, "single", 16), view.cell(ref, "single", 16)
    assert mine and theirs and mine.rps and theirs.rps
    expected = mine.rps.median / theirs.rps.median
    text = said[(other, 16)].text
    assert text.startswith(f"{other}: {expected:.2f}× the throughput of {ref} at 16 users")
    assert ", p99 " in text
    assert len(said) == (len(view.measured_stacks) - 1) * len(view.users)


def test_overlapping_repeats_are_called_not_significant(view: RunView) -> None:
    found = [s for s in sentences(view, "single", view.measured_stacks[0]) if not s.significant]
    assert found, "the fixture has overlapping stacks"
    assert all("no significant difference" in s.text for s in found)
