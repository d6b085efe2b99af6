"""`servebench soak` end to end on one real stack, kept short: 8 s of paced load in 2 s windows."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from loadtests import drift
from servebench.cli import main
from servebench.results.declarations import CONTENTION_PERCENT
from servebench.results.histogram import decode, percentiles_ms
from servebench.results.store import load_soak

# Measures timing or loads the machine: runs alone (see the Makefile's test target).
pytestmark = pytest.mark.serial

DURATION_S, WINDOW_S, USERS = 8.0, 2.0, 4


def test_a_short_soak_writes_consistent_windows_and_fits(tmp_path: Path) -> None:
    stack = "litserve_nobatch"
    code = main(["soak", "--stacks", stack, "--duration", str(DURATION_S), "--window", str(WINDOW_S),
                 "--warmup", "1", "--users", str(USERS), "--results-dir", str(tmp_path),
                 "--reports-dir", str(tmp_path / "reports")])
    (root,) = tmp_path.glob("*-soak")
    loaded = load_soak(root)
    run, (record,) = loaded.run, loaded.records
    assert (tmp_path / "reports" / root.name / "index.html").is_file()
    assert code == 0 and run.status == "complete" and record.status == "ok", record.reason
    assert run.settings.thresholds == drift.THRESHOLDS.as_dict()
    assert set(run.load_average) == {"start", "end"}

    # The target came from the closed-loop probe, and the pacing held the load to it, not to
    # the closed-loop capacity. Each paced user starts a request at most once per 1/user_rps
    # while the phase is open, plus two back to back at its opening (the one held at the gate
    # between the phases, then one without waiting): a bound on the count that holds however
    # slow or busy the machine was.
    assert record.target_from == "probe" and record.probe is not None
    assert record.capacity_rps == record.probe.measured.rps
    assert record.target_rps == pytest.approx(0.5 * record.capacity_rps)
    assert record.opened_at is not None and record.drained_at is not None
    open_s = record.drained_at - record.opened_at
    assert record.requests <= record.target_rps * open_s + 2 * USERS

    windows = record.windows
    full = [w for w in windows if not w.partial]
    assert len(full) == DURATION_S / WINDOW_S and full == windows[:len(full)]
    assert [w.index for w in windows] == list(range(len(windows)))
    assert windows[0].start == record.opened_at
    # Windows past the full ones only hold answers still in flight when the phase ended.
    assert all(w.start >= record.opened_at + DURATION_S - 1e-6 for w in windows[len(full):])
    for before, after in itertools.pairwise(windows):
        assert after.start == pytest.approx(before.start + WINDOW_S) and after.start >= before.end
    assert windows[-1].end <= record.drained_at
    # Every answer of the measured phase is in exactly one window.
    assert sum(w.requests for w in windows) == record.requests > 0
    assert record.failures == {} and all(w.failures == {} for w in windows)
    raw = json.loads((root / str(record.raw_dir) / "locust-result.json").read_text())
    locust_total = sum(k["requests"] for k in raw["phases"]["measured"]["tally"]["kinds"].values())
    assert locust_total == record.requests

    pids = {str(p.pid) for p in record.processes}
    assert pids and all(p.cmdline for p in record.processes)
    for window in full:
        assert window.samples >= 2 and window.processes and set(window.processes) <= pids
        assert all(p.rss_mb > 0 for p in window.processes.values())
        assert window.server_rss_mb == pytest.approx(sum(p.rss_mb for p in window.processes.values()))
        # Unique memory, where read, never exceeds the resident set.
        assert all(0 < p.uss_mb <= p.rss_mb for p in window.processes.values() if p.uss_mb is not None)
        assert window.server_uss_mb is None or window.server_uss_mb <= window.server_rss_mb
        assert window.server_cpu_percent is not None and window.server_cpu_percent > 0
        assert percentiles_ms(decode(window.latency.histogram)) == window.latency.percentiles_ms
        assert window.latency.count == window.requests
    # It is read twice a window; a sampler held up on a busy machine may miss one window, not more.
    with_uss = [w for w in full if w.server_uss_mb is not None
                and all(p.uss_mb is not None for p in w.processes.values())]
    assert len(with_uss) >= len(full) - 1

    # The fits use the full windows after the skipped ones, and agree with a refit.
    assert record.drift is not None
    fitted = full[drift.THRESHOLDS.skip_windows:]
    assert record.drift.rss.windows == [w.index for w in fitted] == record.drift.p99.windows
    mids = [(w.start + w.end) / 2 for w in fitted]
    refit = drift.theil_sen(mids, [w.server_rss_mb or 0.0 for w in fitted])
    assert record.drift.rss.slope_per_s == pytest.approx(refit.slope)
    assert record.drift.rss_mb_per_min == pytest.approx(60 * refit.slope)
    assert record.drift.rss_start_mb == pytest.approx(refit.intercept)
    p99 = drift.theil_sen(mids, [w.latency.percentiles_ms["p99"] for w in fitted])
    assert record.drift.p99_end_ms == pytest.approx(p99.at(mids[-1]))
    uss_windows = [w.index for w in fitted if w.server_uss_mb is not None]
    if len(uss_windows) >= drift.THRESHOLDS.min_windows:
        assert record.drift.uss is not None and record.drift.uss.windows == uss_windows
    else:
        assert record.drift.uss is None
    contended = any((w.server_cpus_busy_percent or 0) - (w.server_cpu_percent or 0) > CONTENTION_PERCENT
                    for w in fitted)
    assert record.verdict == drift.verdict(refit, p99, tail_judged=not contended)[0] and record.reasons
    assert ("server_cpu_contention" in record.flags) >= contended
