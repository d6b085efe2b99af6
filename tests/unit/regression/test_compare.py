from __future__ import annotations

import numpy as np
import pytest

from servebench.regression.compare import compare, ratio
from servebench.regression.sampler import Rounds


def _rounds(
    seed: int, predict_scale: float = 1.0, machine_speed: float = 1.0, health_offset: float = 1.0
) -> Rounds:
    """Lognormal latencies; each round has its own machine state that hits both endpoints."""
    rng = np.random.default_rng(seed)
    predict, health = [], []
    for _ in range(30):
        drift = machine_speed * rng.uniform(0.8, 1.25)
        health.append((drift * health_offset * rng.lognormal(np.log(300), 0.2, 80)).astype(int).tolist())
        predict.append((drift * predict_scale * rng.lognormal(np.log(900), 0.2, 80)).astype(int).tolist())
    return Rounds(predict, health)


def test_the_same_distribution_passes() -> None:
    result = compare("s", [_rounds(1)], [_rounds(2)], "p50")
    assert result.verdict == "ok"
    assert result.low < 0 < result.high


def test_a_slower_machine_alone_is_not_a_regression() -> None:
    result = compare("s", [_rounds(1)], [_rounds(2, machine_speed=1.6)], "p50")
    assert result.verdict == "ok"


def test_a_30_percent_slowdown_is_a_regression_with_an_interval_around_it() -> None:
    result = compare("s", [_rounds(1)], [_rounds(2, predict_scale=1.3)], "p50")
    assert result.verdict == "REGRESSION"
    assert result.low < 0.30 < result.high
    assert result.line().endswith("REGRESSION")


def test_a_speedup_is_reported_as_improved() -> None:
    assert compare("s", [_rounds(1)], [_rounds(2, predict_scale=0.6)], "p50").verdict == "improved"


def test_ratio_is_predict_over_health() -> None:
    rounds = Rounds([[200, 200, 200]], [[100, 100, 100]])
    assert ratio(rounds, "p50") == pytest.approx(2.0)


def _processes(seed: int, predict_scale: float = 1.0) -> list[Rounds]:
    """Three server processes whose trivial endpoint differs by up to 20% from one another."""
    offsets = (0.9, 1.0, 1.1)
    return [_rounds(seed + i, predict_scale, health_offset=o) for i, o in enumerate(offsets)]


def test_process_to_process_differences_widen_the_interval_not_the_verdict() -> None:
    one_each = compare("s", _processes(10)[:1], _processes(20)[2:], "p50")
    several = compare("s", _processes(10), _processes(20), "p50")
    assert several.verdict == "ok"
    assert several.high - several.low > one_each.high - one_each.low
    slower = compare("s", _processes(10), _processes(20, predict_scale=1.3), "p50")
    assert slower.verdict == "REGRESSION" and slower.low < 0.30 < slower.high


def test_no_regression_on_a_disturbed_host_is_inconclusive_not_ok() -> None:
    quiet = _rounds(1)
    disturbed = Rounds(quiet.predict_us, [r[:-4] + [30 * v for v in r[-4:]] for r in quiet.health_us])
    assert compare("s", [quiet], [_rounds(2)], "p99").verdict == "ok"
    result = compare("s", [quiet], [disturbed], "p99")
    assert result.candidate_noise > 3 and result.verdict == "inconclusive"
    # A busy candidate host hides slowdowns but does not invent them: a clear one still shows.
    slower = Rounds(_rounds(2, predict_scale=1.5).predict_us, disturbed.health_us)
    assert compare("s", [quiet], [slower], "p50").verdict == "REGRESSION"


def test_nothing_is_concluded_against_a_disturbed_baseline() -> None:
    quiet = _rounds(1)
    disturbed = Rounds(quiet.predict_us, [r[:-4] + [30 * v for v in r[-4:]] for r in quiet.health_us])
    # Its compressed p99 ratio would otherwise read as a huge regression of a quiet candidate.
    assert compare("s", [disturbed], [_rounds(2)], "p99").verdict == "inconclusive"
