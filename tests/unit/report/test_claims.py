from __future__ import annotations

from servebench.report.claims import Match, check_claims
from servebench.report.view import RunView
from servebench.results.schema import Claim
from servebench.results.store import LoadedRun
from tests.unit.report.conftest import with_flag


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
    # Judged at the lowest level (1 user): every FastAPI stack's p99 there decides.
    at_one = [view.cell(s, "single", 1) for s in Match(("fastapi", "uvicorn")).stacks(view)]
    worst = max(c.p99_ms.median for c in at_one if c and c.p99_ms)
    assert p99_fastapi.verdict == ("not supported" if worst > 20 else "supported")
    assert all("all levels: 1u" in e.measured and "16u" in e.measured for e in p99_fastapi.evidence)
    assert p99_bento.verdict == "not measured"
    assert batch.verdict == "supported"  # batches of 5-20 rows multiply rows/s per request
    assert inline.evidence and inline.evidence[0].subject.count(" vs ") == 1
    assert flask.verdict == fastapi.verdict == "not measured"  # the default model takes ~1 ms a call
    assert "this run's default model took" in flask.summary and "--model heavy" in flask.summary


def _model_call_ms(loaded: LoadedRun, ms: float) -> LoadedRun:
    """The fixture as if every model call had taken `ms`: the rule under test, not the data."""
    def changed(record):
        if record.server_metrics is None:
            return record
        return record.model_copy(update={
            "server_metrics": record.server_metrics.model_copy(update={"mean_inference_ms": ms})})

    return LoadedRun(loaded.root, loaded.run, [changed(r) for r in loaded.records])


def test_throughput_claims_are_judged_only_near_a_50_ms_model(loaded: LoadedRun) -> None:
    view = RunView(_model_call_ms(loaded, 50.0))
    flask, fastapi = check_claims(view)[4:]
    assert {flask.verdict, fastapi.verdict} <= {"supported", "not supported"}
    flask_stack = Match(("flask",)).stacks(view)[0]
    peak = max(c.rps.median for c in view.stack_cells(flask_stack, "single") if c.rps)
    assert flask.verdict == ("supported" if 60 <= peak <= 100 else "not supported")
    slow = check_claims(RunView(_model_call_ms(loaded, 400.0)))[4]
    assert slow.verdict == "not measured" and "took 400 ms a call" in slow.summary


def _scaled_p99(loaded: LoadedRun, stack: str, factor: float, users: int | None = None) -> LoadedRun:
    """The fixture with one stack's measured p99 multiplied: the claim's rule, not the data, under test."""
    def scaled(record):
        latency = record.measured.latency
        percentiles = {**latency.percentiles_ms, "p99": latency.percentiles_ms["p99"] * factor}
        measured = record.measured.model_copy(
            update={"latency": latency.model_copy(update={"percentiles_ms": percentiles})})
        return record.model_copy(update={"measured": measured})

    return LoadedRun(loaded.root, loaded.run, [scaled(r) if r.stack == stack and users in (None, r.users)
                                               else r for r in loaded.records])


def test_inline_claim_follows_the_p99_of_inline_against_the_pool(loaded: LoadedRun) -> None:
    view = RunView(loaded)
    inline = Match(("fastapi", "inline")).stacks(view)[0]
    slower = check_claims(RunView(_scaled_p99(loaded, inline, 10.0)))[3]
    faster = check_claims(RunView(_scaled_p99(loaded, inline, 0.1)))[3]
    assert slower.verdict == "supported" and "beyond the repeats' spread" in slower.evidence[0].measured
    assert faster.verdict == "not supported"


def test_evidence_names_the_flags_behind_it(loaded: LoadedRun) -> None:
    flagged = loaded
    for record in loaded.records:
        flagged = with_flag(flagged, record.record_id, "generator_bound")
    batch = check_claims(RunView(flagged))[2]
    assert batch.evidence and all("generator_bound" in e.measured for e in batch.evidence)


def test_p99_range_is_judged_at_the_lowest_level(loaded: LoadedRun) -> None:
    stack = Match(("fastapi", "inline")).stacks(RunView(loaded))[0]
    fast_alone = _scaled_p99(loaded, stack, 0.001, users=1)  # 16 users keep their real p99
    evidence = next(e for e in check_claims(RunView(fast_alone))[0].evidence if e.subject == stack)
    assert evidence.verdict == "supported" and "below the claimed range" in evidence.measured
    slow_alone = _scaled_p99(loaded, stack, 1000.0, users=1)
    evidence = next(e for e in check_claims(RunView(slow_alone))[0].evidence if e.subject == stack)
    assert evidence.verdict == "not supported"


def _with(loaded: LoadedRun, claim: Claim, accelerators: list[str] | None) -> RunView:
    run = loaded.run
    judging = run.judging.model_copy(update={"claims": [claim]})
    machine = run.machine.model_copy(update={"accelerators": accelerators})
    return RunView(LoadedRun(loaded.root, run.model_copy(update={"judging": judging, "machine": machine}),
                             loaded.records))


def test_a_gpu_figure_is_not_judged_by_a_cpu_only_run(loaded: LoadedRun) -> None:
    claim = Claim(claim="Batcher: p99 latency 1–5000 ms on GPU", rule="p99_range",
                  subjects=["fastapi", "batcher"], low=1, high=5000, accelerator="GPU")
    (cpu_only,) = check_claims(_with(loaded, claim, []))
    assert cpu_only.verdict == "not measured"
    assert "has no GPU" in cpu_only.summary and "on a machine with a GPU" in cpu_only.rule
    assert cpu_only.evidence and all("on CPU only" in e.measured and any(ch.isdigit() for ch in e.measured)
                                     for e in cpu_only.evidence)  # the CPU numbers, shown
    (with_gpu,) = check_claims(_with(loaded, claim, ["NVIDIA A10"]))
    assert with_gpu.verdict == "supported"
