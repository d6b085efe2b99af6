"""fastapi_batcher's targets, judged on runs built to sit on either side of each limit."""

from __future__ import annotations

from loadtests.recorder import declaration
from servebench.report.targets import judge_targets
from servebench.report.view import RunView
from servebench.results.schema import Record
from servebench.results.store import LoadedRun
from servers.registry import STACKS

# (stack, workload, users) -> (req/s, p50 ms, p99 ms): every cell the targets read.
CELLS = {
    ("fastapi_batcher", "single", 1): (1000, 0.90, 1.5),
    ("fastapi_inline", "single", 1): (1100, 0.85, 1.2),
    ("fastapi_batcher", "single", 32): (6000, 5.0, 8.0),
    ("fastapi_batcher", "single", 64): (6500, 9.0, 12.0),
    ("fastapi_threadpool", "single", 32): (1100, 28.0, 40.0),
    ("fastapi_threadpool", "single", 64): (1100, 55.0, 20.0),  # p99 target missed at 64
    ("litserve", "single", 32): (1200, 20.0, 30.0),
    ("litserve", "single", 64): (1700, 30.0, 50.0),  # throughput target missed at 64
    ("bentoml", "single", 32): (400, 70.0, 150.0),
    ("bentoml", "single", 64): (420, 140.0, 400.0),
    ("fastapi_batcher", "ceiling", 32): (10000, 3.0, 6.0),
}


def _record(template: Record, stack: str, workload: str, users: int, rps: float, p50: float,
            p99: float, flags: list[str]) -> Record:
    m = template.measured
    latency = m.latency.model_copy(update={"percentiles_ms": {**m.latency.percentiles_ms,
                                                               "p50": p50, "p99": p99}})
    return template.model_copy(update={
        "record_id": f"{stack}__{workload}__u{users}__r1", "stack": stack, "workload": workload,
        "users": users, "flags": flags, "generator_bound": "generator_bound" in flags,
        "measured": m.model_copy(update={"rps": rps, "latency": latency, "users": users}),
    })


def _run(loaded: LoadedRun, bound: tuple[str, str, int] | None = None) -> RunView:
    template = loaded.records[0]
    records = [_record(template, *key, *values, ["generator_bound"] if key == bound else [])
               for key, values in CELLS.items()]
    # The fixture run measured our stacks only: the peers are declared as the registry has them.
    declared = {**loaded.run.stacks_declared, **{s: declaration(STACKS[s]) for s in ("litserve", "bentoml")}}
    run = loaded.run.model_copy(update={"stacks_declared": declared})
    return RunView(LoadedRun(loaded.root, run, records))


def test_each_target_is_judged_against_its_limit(loaded: LoadedRun) -> None:
    judged = {(j.target.split(" against")[0], j.users): j for j in judge_targets(_run(loaded))}
    assert judged[("p50 at 1 user", 1)].verdict == "met"  # 0.90 / 0.85 = 1.06
    assert judged[("throughput", 32)].verdict == "met"  # 6000 / 1200 = 5.0
    assert judged[("throughput", 32)].detail == "best peer: litserve"
    assert judged[("throughput", 64)].verdict == "missed"  # 6500 / 1700 = 3.8
    assert judged[("p99", 32)].verdict == "met"  # 8 / 40
    assert judged[("p99", 64)].verdict == "missed"  # 12 / 20 = 0.6
    ceiling = judged[("peak predictions", 64)]
    assert ceiling.verdict == "met" and abs((ceiling.ratio or 0) - 0.65) < 1e-9


def test_a_generator_bound_cell_is_neither_credited_nor_blamed(loaded: LoadedRun) -> None:
    judged = judge_targets(_run(loaded, bound=("fastapi_batcher", "ceiling", 32)))
    (ceiling,) = [j for j in judged if j.target.startswith("peak predictions")]
    assert ceiling.verdict == "generator-bound" and ceiling.ratio is not None


def test_missing_cells_are_not_measured(loaded: LoadedRun) -> None:
    view = _run(loaded)
    without_peers = [r for r in view.loaded.records if r.stack not in ("litserve", "bentoml")]
    judged = judge_targets(RunView(LoadedRun(loaded.root, view.loaded.run, without_peers)))
    assert {j.verdict for j in judged if j.target.startswith("throughput")} == {"not measured"}
    assert judge_targets(RunView(LoadedRun(loaded.root, loaded.run, []))) == []
