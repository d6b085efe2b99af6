from __future__ import annotations

from servebench.report.claims import COMPARABLE_PROFILE, Match, check_claims
from servebench.report.view import RunView
from servebench.results.store import LoadedRun


def test_every_claim_gets_a_verdict_and_its_numbers(view: RunView) -> None:
    claims = check_claims(view)
    assert len(claims) == 6
    for claim in claims:
        assert claim.verdict in ("supported", "not supported", "not measured")
        assert claim.summary
        if claim.verdict != "not measured":
            assert claim.evidence and all(any(ch.isdigit() for ch in e.measured) for e in claim.evidence)


def test_frameworks_are_matched_by_title_and_command(view: RunView) -> None:
    fastapi = Match(("fastapi", "uvicorn")).stacks(view)
    assert fastapi and all("FastAPI" in view.title(s) for s in fastapi)
    assert Match(("bentoml",)).stacks(view) == []  # not in the fixture


def test_fixture_verdicts(view: RunView) -> None:
    p99_fastapi, p99_bento, batch, inline, flask, fastapi = check_claims(view)
    # p99 above 20 ms at 16 users on a busy machine: the range claim does not hold.
    worst = max(c.p99_ms.median for s in Match(("fastapi", "uvicorn")).stacks(view)
                for c in view.stack_cells(s, "single") if c.p99_ms)
    assert p99_fastapi.verdict == ("not supported" if worst > 20 else "supported")
    assert p99_bento.verdict == "not measured"
    assert batch.verdict == "supported"  # batches of 5-20 rows multiply rows/s per request
    assert all("[flagged: cpu_contention]" in e.measured for e in batch.evidence)  # a busy machine
    assert inline.evidence and inline.evidence[0].subject.count(" vs ") == 1
    assert flask.verdict == fastapi.verdict == "not measured"  # the fixture used the default model
    assert "default model" in flask.summary


def test_throughput_claims_are_judged_with_the_comparable_model(loaded: LoadedRun) -> None:
    run = loaded.run.model_copy(update={"model": {**loaded.run.model, "profile": COMPARABLE_PROFILE}})
    claims = check_claims(RunView(LoadedRun(loaded.root, run, loaded.records)))
    flask, fastapi = claims[4], claims[5]
    assert {flask.verdict, fastapi.verdict} <= {"supported", "not supported"}
    view = RunView(loaded)
    flask_stack = Match(("flask",)).stacks(view)[0]
    peak = max(c.rps.median for c in view.stack_cells(flask_stack, "single") if c.rps)
    assert flask.verdict == ("supported" if 60 <= peak <= 100 else "not supported")


def test_inline_claim_fails_when_inline_is_not_slower(loaded: LoadedRun) -> None:
    view = RunView(loaded)
    inline = Match(("fastapi", "inline")).stacks(view)[0]
    pool = Match(("fastapi", "thread pool")).stacks(view)[0]
    # Swap the two titles: the "inline" stack is now the one measured with the pool's numbers.
    titles = {inline: view.title(pool), pool: view.title(inline)}
    outcomes = [o.model_copy(update={"title": titles.get(o.stack, o.title)}) for o in loaded.run.stacks]
    run = loaded.run.model_copy(update={"stacks": outcomes})
    original = check_claims(view)[3].verdict
    swapped = check_claims(RunView(LoadedRun(loaded.root, run, loaded.records)))[3].verdict
    assert {original, swapped} == {"supported", "not supported"}
