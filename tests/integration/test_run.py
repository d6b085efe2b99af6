"""`servebench run` end to end on real stacks, bounded: tiny phases, few levels, loopback only."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from pathlib import Path

import psutil
import pytest

from loadtests.cpus import Pinning
from loadtests.run import Observer, RunConfig
from loadtests.run import run as orchestrate
from loadtests.workloads import RUN_PROFILES
from servebench.cli import main
from servebench.results.histogram import decode, percentiles_ms
from servebench.results.schema import PROCESS_MARK, Record
from servebench.results.store import load_run
from servers.registry import STACKS, Stack

TINY = dataclasses.replace(RUN_PROFILES["quick"], workloads=("single",), users=(1, 4),
                           warmup_s=0.5, measure_s=1.0, repeats=1, drain_timeout_s=10.0, generator="locust")


def _config(tmp_path: Path, stacks: tuple[str, ...], **changes: object) -> RunConfig:
    return RunConfig(profile=dataclasses.replace(TINY, **changes), stacks=stacks, model="default",
                     pinning=Pinning.default(), results_dir=tmp_path)


def _assert_consistent(record: Record) -> None:
    measured = record.measured
    assert measured.requests > 0 and record.warmup.requests > 0
    assert measured.failures == {}, measured.failures
    # Phases end on a drained boundary, so both sides counted exactly the same requests.
    assert measured.drained and record.warmup.drained
    assert record.rows_sent == record.rows_server
    assert measured.requests == sum(kind.requests for kind in measured.kinds.values())
    assert measured.latency.count + measured.failed_latency.count == measured.requests
    assert percentiles_ms(decode(measured.latency.histogram)) == measured.latency.percentiles_ms
    q = measured.latency.percentiles_ms
    assert 0 < q["min"] <= q["p50"] <= q["p90"] <= q["p99"] <= q["p99.9"] <= q["max"]
    assert measured.rps == pytest.approx(measured.requests / measured.duration_s)
    assert record.resources is not None and record.resources.server_cpu_percent > 0
    assert record.server_metrics is not None and record.server_metrics.inference_seconds.count > 0
    assert record.shutdown_s is not None and record.time_to_ready_s > 0
    assert "count_mismatch" not in record.flags and "not_drained" not in record.flags


def test_a_smoke_run_of_two_stacks_writes_consistent_records(tmp_path: Path) -> None:
    stacks = tuple(STACKS)[:2]
    root, run = orchestrate(_config(tmp_path, stacks))
    loaded = load_run(root)
    assert loaded.run == run and run.status == "complete"
    assert [s.stack for s in run.stacks] == list(stacks)
    assert all(s.status == "ok" and all(c.ok for c in s.checks) for s in run.stacks)
    measured = [r for r in loaded.records if r.stack != "floor"]
    assert {(r.stack, r.users) for r in measured} == {(s, u) for s in stacks for u in TINY.users}
    # The floor came first, at every level, with the generator each stack got there.
    assert run.floor is not None and run.floor.status == "ok"
    floors = {(r.workload, r.users): r for r in loaded.records if r.stack == "floor"}
    assert set(floors) == {("single", u) for u in TINY.users}
    for record in measured:
        assert record.client is not None
        floor = floors[(record.workload, record.users)]
        assert record.client.floor_record == floor.record_id and floor.generator == record.generator
        assert record.client.share == floor.measured.latency.percentiles_ms["p50"] / \
            record.measured.latency.percentiles_ms["p50"]
    for record in measured:
        _assert_consistent(record)
        assert record.knobs == dict(STACKS[record.stack].knobs)
        assert (root / record.raw_dir / "locust-result.json").exists()
        # Read once after the phase: every process of the tree, unique and proportional memory.
        held = record.memory
        assert held is not None and held.processes and held.uss_mb is not None and held.pss_mb is not None
        assert 0 < held.uss_mb <= held.pss_mb <= held.rss_mb
        # The measured phase over time: every answer in a window, CPU and memory per sample.
        timeline = record.timeline
        assert timeline is not None and timeline.window_s == pytest.approx(TINY.measure_s / 10)
        assert sum(w.requests for w in timeline.windows) == record.measured.requests
        assert timeline.resources and all(p.server_cpu_percent >= 0 for p in timeline.resources)
    for outcome in run.stacks:
        assert (root / outcome.log).read_text().startswith(PROCESS_MARK)  # each process's part marked
    assert run.settings.users == list(TINY.users) and run.model["sha256"]


def test_wrk_measures_predictions_and_the_ceiling_with_exact_histograms(tmp_path: Path) -> None:
    stack = "fastapi_batcher"
    users = 4
    root, run = orchestrate(_config(tmp_path, (stack,), workloads=("single", "ceiling"),
                                    users=(users,), warmup_s=1.0, generator="wrk"))
    assert run.settings.generator == "wrk" and run.stacks[0].status == "ok"
    assert set(run.generators) == {"wrk"}
    records = {r.workload: r for r in load_run(root).records if r.stack != "floor"}
    for record in records.values():
        measured = record.measured
        assert record.generator == "wrk" and "wrk" in record.generator_commands[0]
        assert record.generator_commands[0][-1].startswith("http://127.0.0.1:")
        assert measured.failures == {} and measured.drained and "count_mismatch" not in record.flags
        # wrk's own latencies, rank by rank: the histogram holds every answered request.
        assert measured.latency.count == measured.requests > 0
        assert percentiles_ms(decode(measured.latency.histogram)) == measured.latency.percentiles_ms
        assert record.resources is not None and record.resources.generator_cpu_percent > 0
        assert (root / record.raw_dir / "measured.json").exists()
    single = records["single"]
    # wrk cannot drain: the server may also have answered what was in flight when it stopped.
    assert single.rows_server is not None
    assert single.rows_sent <= single.rows_server <= single.rows_sent + users
    assert records["ceiling"].rows_sent == 0 and records["ceiling"].rows_server == 0


def test_auto_takes_the_least_intrusive_generator_each_workload_allows(tmp_path: Path) -> None:
    root, run = orchestrate(_config(tmp_path, ("fastapi_inline",), workloads=("single", "seed_mix"),
                                    users=(2,), generator="auto"))
    records = {r.workload: r for r in load_run(root).records if r.stack != "floor"}
    by_workload = {w: r.generator for w, r in records.items()}
    assert by_workload == {"single": "wrk", "seed_mix": "locust"}  # wrk cannot mix kinds
    # wrk's durations are whole seconds: the 0.5 s warm-up is a run interrupted at that time,
    # which still hands over its latencies.
    warmup = records["single"].warmup
    assert warmup.nominal_s == 0.5 and 0 < warmup.duration_s < 1.0
    assert warmup.requests == warmup.latency.count > 0
    assert set(run.generators) == {"wrk", "locust"} and run.settings.generator == "locust+wrk"


def test_wrk_refuses_mixed_workloads() -> None:
    assert main(["run", "--generator", "wrk", "--workloads", "seed_mix", "--stacks",
                 "fastapi_inline"]) == 1


def test_locust_master_with_two_workers_counts_like_the_server(tmp_path: Path) -> None:
    stack = "litserve_nobatch"  # several processes behind one port
    # Two worker processes connect and spawn their users before any request: on a busy 2-core
    # machine that took the whole of TINY's 0.5 s warm-up once, leaving it with no request.
    config = dataclasses.replace(_config(tmp_path, (stack,), workloads=("seed_mix",), users=(4,),
                                         warmup_s=2.0), locust_workers=2)
    root, _run = orchestrate(config)
    (record,) = [r for r in load_run(root).records if r.stack != "floor"]
    _assert_consistent(record)
    assert record.locust_workers == 2 and len(record.generator_commands) == 3
    raw = json.loads((root / record.raw_dir / "locust-result.json").read_text())
    assert raw["phases"]["measured"]["processes"] == 2
    assert {"single", "batch", "ready"} <= set(record.measured.kinds)
    assert record.measured.kinds["batch"].rows >= 5 * record.measured.kinds["batch"].requests


def test_a_stack_that_cannot_start_is_recorded_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = next(iter(STACKS))
    broken = dataclasses.replace(
        STACKS[good], name="broken",
        argv=("{python}", "-c", "import sys; print('no such server'); sys.exit(2)"))
    monkeypatch.setattr("loadtests.run.STACKS", {**STACKS, "broken": broken})
    _root, run = orchestrate(_config(tmp_path, ("broken", good), users=(2,)))
    outcome = {s.stack: s for s in run.stacks}
    assert outcome["broken"].status == "failed" and "exited with code 2" in (outcome["broken"].reason or "")
    assert "no such server" in (outcome["broken"].log_tail or "")
    assert outcome[good].status == "ok" and len(outcome[good].records) == 1


def test_the_command_line_runs_and_prints_its_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    stack = next(iter(STACKS))
    code = main(["run", "--profile", "quick", "--stacks", stack, "--workloads", "batch", "--users", "2",
                 "--warmup-s", "0.5", "--measure-s", "1", "--generator", "locust",
                 "--results-dir", str(tmp_path), "--reports-dir", str(tmp_path / "reports")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "estimate" in out and stack in out and "req/s" in out
    (run_dir,) = tmp_path.glob("*-run")
    (record,) = [r for r in load_run(run_dir).records if r.stack != "floor"]
    _assert_consistent(record)
    assert (tmp_path / "reports" / run_dir.name / "index.html").is_file()  # every run renders its page
    assert f"report: {tmp_path / 'reports' / run_dir.name / 'index.html'}" in out


class _KillAfterFirstMeasurement(Observer):
    """Kills the server under test once its first record is in, as a crash would."""

    def __init__(self) -> None:
        self.killed = False

    def measurement_done(self, record: Record | None, seconds: float) -> None:
        if self.killed or record is None:
            return
        for child in psutil.Process().children():
            if " ".join(record.command).endswith(" ".join(child.cmdline())):
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=10)
                self.killed = True


def test_a_stack_that_dies_during_the_run_keeps_its_records_and_the_run_goes_on(tmp_path: Path) -> None:
    first, second = tuple(STACKS)[:2]
    observer = _KillAfterFirstMeasurement()
    root, run = orchestrate(_config(tmp_path, (first, second)), observer)
    assert observer.killed
    outcome = {s.stack: s for s in run.stacks}
    assert outcome[first].status == "failed" and "died during" in (outcome[first].reason or "")
    assert outcome[first].records == [f"{first}__single__u1__r1"]
    assert outcome[second].status == "ok" and len(outcome[second].records) == len(TINY.users)
    assert len([r for r in load_run(root).records if r.stack != "floor"]) == 1 + len(TINY.users)


def test_a_stack_whose_info_disagrees_with_the_registry_is_not_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "litserve_nobatch"
    declared = STACKS[name]

    class Misreporting(Stack):
        def env(self) -> dict[str, str]:  # the server is told other knobs than the registry's
            return {**super().env(), "SERVEBENCH_KNOBS": json.dumps({**self.knobs, "misreported": 1})}

    stack = Misreporting(**{f.name: getattr(declared, f.name) for f in dataclasses.fields(declared)})
    monkeypatch.setattr("loadtests.run.STACKS", {**STACKS, name: stack})
    root, run = orchestrate(_config(tmp_path, (name,)))
    (outcome,) = run.stacks
    assert outcome.status == "failed" and "info_knobs" in (outcome.reason or "")
    assert [c.name for c in outcome.checks if not c.ok] == ["info_knobs"]
    assert outcome.records == [] and not list((root / "locust").glob(f"{name}__*"))


def test_each_repeat_is_a_fresh_server_process_verified_again(tmp_path: Path) -> None:
    stack = "fastapi_inline"
    root, run = orchestrate(_config(tmp_path, (stack,), users=(2,), repeats=2))
    (outcome,) = run.stacks
    assert outcome.status == "ok"
    assert outcome.records == [f"{stack}__single__u2__r1", f"{stack}__single__u2__r2"]
    records = [r for r in load_run(root).records if r.stack != "floor"]
    assert all(r.shutdown_s is not None for r in records)
    assert records[0].time_to_ready_s != records[1].time_to_ready_s  # each its own start
    log = (root / outcome.log).read_text()
    assert log.count("Started server process") == 2, log
