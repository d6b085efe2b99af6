"""Why things failed: per stack, the kinds of failed answers with their counts, the first
distinct texts the generator saw, the lines of the server's own log that look like their
cause, and the log itself; a stack that failed to start or verify, the check that failed and
the answer it got."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from servebench.report.view import RunView
from servebench.results.schema import PROCESS_MARK, Check

EXCERPT_BLOCKS = 3  # distinct error passages quoted from a log
BLOCK_LINES = 14  # lines of one passage (a traceback's frames, then its exception)
# A line that reports trouble, whatever the framework's log format.
TROUBLE = re.compile(r"Traceback|Error\b|Error:|Exception|\bERROR\b|CRITICAL|FATAL|Killed|panic|"
                     r"\b(?:HTTP/1\.[01]\"? |status[= ])5\d\d\b|\" 5\d\d ")
_VOLATILE = re.compile(r"0x[0-9a-f]+|\d+")


@dataclass(frozen=True)
class StackFailures:
    stack: str
    status: str  # ok, failed, not run
    reason: str | None
    failed_checks: list[Check]  # verification: which check, and the answer it got
    kinds: list[tuple[str, int]]  # failure kind -> answers, most first
    answers: int  # every answer of the stack's measured phases
    where: list[str]  # "single at 1 user, repeat 2: 3 status_500"
    examples: list[tuple[str, str]]  # (kind, what the generator saw), first distinct ones
    excerpt: list[str]  # passages of the server's log that look like the cause
    log_tail: str | None  # the run recorded it when the stack failed
    log: str | None  # link to the full log, relative to the page

    @property
    def failed_answers(self) -> int:
        return sum(n for _, n in self.kinds)


def _key(line: str) -> str:
    """A log line without what changes from one occurrence to the next (times, ids, ports)."""
    return _VOLATILE.sub("#", line.strip())[-160:]


def log_passages(text: str, hints: list[str]) -> list[str]:
    """The first distinct passages of a log that report trouble, those naming one of `hints`
    (words from the failed answers) first. A passage is the line and what belongs to it: a
    traceback's indented frames up to its exception line."""
    lines = [line for line in text.splitlines() if not line.startswith(PROCESS_MARK)]
    passages: list[tuple[int, str]] = []
    seen: set[str] = set()
    i = 0
    while i < len(lines):
        if not TROUBLE.search(lines[i]):
            i += 1
            continue
        start, end = i, i + 1
        while end < len(lines) and (
                lines[end][:1].isspace() or lines[end - 1].lstrip().startswith(("Traceback", "File "))
                or lines[end].startswith(("Traceback", "During handling", "The above exception"))):
            end += 1
        traceback = any("Traceback" in line for line in lines[start:end])
        if traceback and end < len(lines) and re.match(r"^[\w.]+(Error|Exception)\b", lines[end]):
            end += 1  # the exception that ends the traceback
        shown = lines[start:end]
        if len(shown) > BLOCK_LINES:  # a deep traceback: its first line, then its last frames
            shown = [shown[0], "  ...", *shown[-(BLOCK_LINES - 2):]]
        block = "\n".join(shown)
        key = _key(lines[end - 1]) + _key(lines[start])
        if key not in seen:
            seen.add(key)
            named = any(h and h in block for h in hints)
            passages.append((0 if named else 1, block))
        i = end
    ordered = [block for _, block in sorted(passages, key=lambda p: p[0])]  # stable: log order within
    return ordered[:EXCERPT_BLOCKS]


def _hints(examples: list[tuple[str, str]]) -> list[str]:
    """Exception names and status codes in what the generator saw: words to look for in the log."""
    words = []
    for kind, text in examples:
        words += re.findall(r"\b\w*(?:Error|Exception)\w*\b", text)
        words += re.findall(r"\bstatus_(\d{3})\b", kind)
    return list(dict.fromkeys(words))


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def stack_failures(view: RunView, stack: str, page_dir: Path) -> StackFailures:
    records = [r for r in view.stack_records if r.stack == stack]
    kinds: Counter[str] = Counter()
    where, examples = [], []
    for record in records:
        measured = record.measured
        kinds.update(measured.failures)
        if measured.failures:
            what = ", ".join(f"{n:,} {k}" for k, n in sorted(measured.failures.items()))
            where.append(f"{record.workload} at {record.users} user{'s' if record.users != 1 else ''}, "
                         f"repeat {record.repeat}: {what}")
        for kind_stats in measured.kinds.values():
            for failure, texts in kind_stats.failure_examples.items():
                examples += [(failure, t) for t in texts if (failure, t) not in examples]
    outcome = view.outcomes.get(stack)
    log_path = view.loaded.root / outcome.log if outcome else None
    excerpt: list[str] = []
    failed = outcome is not None and outcome.status == "failed"
    if log_path is not None and (kinds or failed):
        excerpt = log_passages(_read(log_path), _hints(examples))
    link = (os.path.relpath(log_path, page_dir) if log_path is not None and log_path.is_file() else None)
    return StackFailures(
        stack=stack, status=view.status(stack), reason=outcome.reason if outcome else None,
        failed_checks=[c for c in outcome.checks if not c.ok] if outcome else [],
        kinds=kinds.most_common(), answers=sum(r.measured.requests for r in records), where=where,
        examples=examples[:2 * EXCERPT_BLOCKS], excerpt=excerpt,
        log_tail=outcome.log_tail if outcome else None, log=link)


def failures(view: RunView, page_dir: Path) -> list[StackFailures]:
    """Every stack that failed, was not reached, or had a failed answer, in run order."""
    found = [stack_failures(view, s, page_dir) for s in view.stacks]
    return [f for f in found if f.status != "ok" or f.kinds]
