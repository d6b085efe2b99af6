"""Why things failed: the first messages the generator saw, the server log's matching passages and
the link to the whole log, from the fixture run with failures written into a copy of it."""

from __future__ import annotations

import shutil
from pathlib import Path

from servebench.report.failures import BLOCK_LINES, EXCERPT_BLOCKS, failures, log_passages, stack_failures
from servebench.report.view import RunView
from servebench.results.schema import PROCESS_MARK, Check
from servebench.results.store import LoadedRun, load_run
from tests.unit.report.conftest import FIXTURE

RESET = "aiohttp.client_exceptions.ClientConnectionResetError: Cannot write request body"
LOG = f"""{PROCESS_MARK} 2026-11-24T11:20:11+00:00 python -m bentoml serve
INFO: started server process [41]
ERROR: Exception on /predict [POST]
Traceback (most recent call last):
  File "/srv/service.py", line 12, in predict
    return await self.model.predict(rows)
  File "/srv/client.py", line 40, in request
    await writer.write(body)
{RESET}
INFO: 127.0.0.1:5000 - "POST /predict HTTP/1.1" 500
ERROR: Exception on /predict [POST]
Traceback (most recent call last):
  File "/srv/service.py", line 12, in predict
    return await self.model.predict(rows)
  File "/srv/client.py", line 40, in request
    await writer.write(body)
{RESET}
WARNING: a deprecation nobody asked about
{PROCESS_MARK} 2026-11-24T11:21:00+00:00 python -m bentoml serve
ERROR: disk quota exceeded while writing a cache
"""


def test_passages_are_whole_tracebacks_once_each_those_named_by_the_answers_first() -> None:
    passages = log_passages(LOG, ["ClientConnectionResetError", "500"])
    assert passages[0].startswith("ERROR: Exception on /predict [POST]\nTraceback")
    assert passages[0].endswith(RESET)  # the exception line that closes the traceback
    assert sum(RESET in p for p in passages) == 1  # the same traceback again is not repeated
    assert all(PROCESS_MARK not in p for p in passages)
    assert passages[-1] == "ERROR: disk quota exceeded while writing a cache"
    assert len(passages) <= EXCERPT_BLOCKS


def test_a_deep_traceback_keeps_its_first_line_and_its_last_frames() -> None:
    frames = "".join(f'  File "/srv/m{i}.py", line {i}, in f{i}\n    f{i + 1}()\n' for i in range(40))
    (passage,) = log_passages(f"Traceback (most recent call last):\n{frames}ValueError: deep\n", [])
    lines = passage.splitlines()
    assert lines[0] == "Traceback (most recent call last):" and lines[-1] == "ValueError: deep"
    assert len(lines) == BLOCK_LINES and lines[1] == "  ..."


def _with_failures(loaded: LoadedRun, root: Path, stack: str) -> LoadedRun:
    """A copy of the fixture run in which `stack` answered three requests with a 500 at 1 user."""
    shutil.copytree(FIXTURE, root)
    (root / "logs" / f"{stack}.log").write_text(LOG)
    records = []
    for r in loaded.records:
        if (r.stack, r.workload, r.users, r.repeat) == (stack, "single", 1, 2):
            single = r.measured.kinds["single"].model_copy(update={
                "failures": {"status_500": 3},
                "failure_examples": {"status_500": [f"HTTP 500: {{\"error\": \"{RESET}\"}}"]}})
            r = r.model_copy(update={"measured": r.measured.model_copy(update={
                "failures": {"status_500": 3}, "kinds": {**r.measured.kinds, "single": single}})})
        records.append(r)
    return LoadedRun(root, load_run(root).run, records)


def test_a_stack_with_failed_answers_shows_kinds_messages_log_passages_and_the_log(
        loaded: LoadedRun, tmp_path: Path) -> None:
    stack = "flask_gunicorn"
    view = RunView(_with_failures(loaded, tmp_path / FIXTURE.name, stack))
    page_dir = tmp_path / "reports" / FIXTURE.name
    found = stack_failures(view, stack, page_dir)
    assert found.kinds == [("status_500", 3)] and found.failed_answers == 3
    assert found.where == ["single at 1 user, repeat 2: 3 status_500"]
    assert found.examples == [("status_500", f"HTTP 500: {{\"error\": \"{RESET}\"}}")]
    assert found.excerpt[0].endswith(RESET)
    assert found.log == f"../../{FIXTURE.name}/logs/{stack}.log"
    assert (page_dir / found.log).resolve() == (tmp_path / FIXTURE.name / "logs" / f"{stack}.log").resolve()
    assert [f.stack for f in failures(view, page_dir)] == [stack]  # the others answered every request


def test_a_stack_that_failed_verification_shows_the_check_and_the_answer_it_got(
        loaded: LoadedRun, tmp_path: Path) -> None:
    stack = loaded.run.stacks[0].stack
    check = Check(name="golden_3", ok=False, detail="expected class 1, got {'prediction': 0}")
    outcomes = [o.model_copy(update={"status": "failed", "reason": "verification failed: golden_3",
                                     "checks": [*o.checks, check], "records": []})
                if o.stack == stack else o for o in loaded.run.stacks]
    derived = LoadedRun(loaded.root, loaded.run.model_copy(update={"stacks": outcomes}),
                        [r for r in loaded.records if r.stack != stack])
    found = stack_failures(RunView(derived), stack, tmp_path)
    assert found.status == "failed" and found.reason == "verification failed: golden_3"
    assert found.failed_checks == [check]
