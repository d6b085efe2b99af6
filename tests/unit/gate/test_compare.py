from __future__ import annotations

import numpy as np
import pytest

from loadtests.gate.check import EXIT_PASS, EXIT_REGRESSION, EXIT_UNMEASURED, _verdict
from loadtests.gate.compare import Comparison, Metric, compare, statistic
from loadtests.gate.sampler import Rounds


def _rounds(
    seed: int, predict_scale: float = 1.0, machine_speed: float = 1.0, health_offset: float = 1.0,
    added_us: float = 0.0, spread: tuple[float, float] = (0.8, 1.25),
) -> Rounds:
    """Lognormal latencies; each round has its own machine state that hits both endpoints."""
    rng = np.random.default_rng(seed)
    predict, health = [], []
    for _ in range(30):
        drift = machine_speed * rng.uniform(*spread)
        h = drift * health_offset * rng.lognormal(np.log(300), 0.2, 80) + added_us
        p = drift * predict_scale * rng.lognormal(np.log(900), 0.2, 80) + added_us
        health.append(h.astype(int).tolist())
        predict.append(p.astype(int).tolist())
    return Rounds(predict_us=predict, health_us=health)


def _processes(seed: int, count: int = 6, **kwargs: float) -> list[Rounds]:
    """Fresh server processes whose own speed differs by up to 10 % from one another (5-10 %
    was measured between processes of the same FastAPI stack)."""
    speeds = np.random.default_rng(seed).uniform(0.95, 1.05, count)
    return [_rounds(seed + i, machine_speed=s, **kwargs) for i, s in enumerate(speeds)]


def test_the_same_code_passes() -> None:
    for metric in ("p50", "health_p50"):
        result = compare("s", _processes(1), _processes(10), metric)
        assert result.verdict == "ok", result.line()
        assert result.low < 0 < result.high


def test_a_30_percent_slower_prediction_is_a_regression_with_an_interval_around_it() -> None:
    result = compare("s", _processes(1), _processes(10, predict_scale=1.3), "p50")
    assert result.verdict == "REGRESSION"
    assert result.low < 0.30 < result.high
    assert result.line().endswith("REGRESSION")
    assert compare("s", _processes(1), _processes(10, predict_scale=1.3), "health_p50").verdict == "ok"


def test_a_change_that_slows_every_request_alike_is_caught_by_health_p50() -> None:
    # 150 us more per request: the ratio even falls, the trivial endpoint's latency does not lie.
    slower = _processes(10, added_us=150)
    assert compare("s", _processes(1), slower, "p50").effect < 0
    assert compare("s", _processes(1), slower, "health_p50").verdict == "REGRESSION"


def test_a_speedup_is_reported_as_improved() -> None:
    assert compare("s", _processes(1), _processes(10, predict_scale=0.6), "p50").verdict == "improved"


def test_statistics() -> None:
    rounds = Rounds(predict_us=[[200, 200, 200]], health_us=[[100, 100, 100]])
    assert statistic(rounds, "p50") == pytest.approx(2.0)
    assert statistic(rounds, "health_p50") == pytest.approx(100)


def test_process_to_process_differences_widen_the_interval_not_the_verdict() -> None:
    one_each = compare("s", _processes(10, count=1), _processes(20, count=1), "health_p50")
    several = compare("s", _processes(10), _processes(20), "health_p50")
    assert several.verdict == "ok"
    assert several.low < 0 < several.high
    # One process a side: its luck looks like a significant effect, which several processes
    # a side (resampled as processes) do not show.
    assert not one_each.low < 0 < one_each.high
    slower = compare("s", _processes(10), _processes(20, predict_scale=1.3), "p50")
    assert slower.verdict == "REGRESSION" and slower.low < 0.30 < slower.high


def test_a_disturbed_host_makes_a_verdict_inconclusive_never_a_regression() -> None:
    wild = (0.3, 3.0)  # each round's machine state anywhere in a 10x range
    base = [_rounds(s, spread=wild) for s in (1, 2)]
    head = [_rounds(s, spread=wild) for s in (11, 12)]
    result = compare("s", base, head, "health_p50")
    assert result.high - result.low > 0.2
    assert result.verdict == "inconclusive"


def _judged(metric: Metric, low: float, high: float) -> Comparison:
    return Comparison("s", metric, (low + high) / 2, low, high, 0.10, 1.0, 1.0, 1.0, 1.0)


def test_only_an_unsure_p50_leaves_the_check_unable_to_conclude() -> None:
    calm = [_judged("p50", -0.02, 0.05), _judged("p99", -0.1, 0.2)]
    # An absolute /health latency straddling its tolerance is reported, not gating...
    assert _verdict([*calm, _judged("health_p50", -0.04, 0.11)], {}) == EXIT_PASS
    # ...but gates once its whole interval lies above it; an unsure p50 cannot conclude.
    assert _verdict([*calm, _judged("health_p50", 0.12, 0.3)], {}) == EXIT_REGRESSION
    assert _verdict([_judged("p50", -0.02, 0.12), _judged("health_p50", -0.04, 0.05)], {}) == EXIT_UNMEASURED
