"""The search on synthetic servers: each passes below a known rate and fails above it."""

from __future__ import annotations

from collections.abc import Callable

from loadtests.capacity_search import Outcome, SearchSettings, search


def server(capacity: float, generator_limit: float = float("inf")) -> Callable[[float], Outcome]:
    def probe(rate: float) -> Outcome:
        if rate > generator_limit:
            return "invalid"
        return "pass" if rate <= capacity else "fail"
    return probe


def test_doubles_then_bisects_to_within_the_resolution() -> None:
    settings = SearchSettings(start_rps=50, growth=2, resolution=0.1)
    result = search(server(730), settings)
    assert result.limited_by == "slo"
    assert result.capacity_rps is not None and result.first_fail_rps is not None
    assert result.capacity_rps <= 730 < result.first_fail_rps
    assert result.first_fail_rps / result.capacity_rps <= 1.1
    rates = [rate for rate, _ in result.tried]
    assert rates[:5] == [50, 100, 200, 400, 800]  # geometric until the first failure
    assert all(400 < rate < 800 for rate in rates[5:])  # then only inside the bracket
    assert len(rates) <= settings.max_steps


def test_capacity_is_a_rate_that_passed_and_every_higher_tried_rate_failed() -> None:
    for true_capacity in (12, 55, 99, 1234, 5000):
        result = search(server(true_capacity), SearchSettings(start_rps=50))
        passed = [r for r, o in result.tried if o == "pass"]
        failed = [r for r, o in result.tried if o == "fail"]
        assert result.capacity_rps == max(passed)
        assert all(r > result.capacity_rps for r in failed)


def test_searches_down_when_the_first_step_fails() -> None:
    result = search(server(20), SearchSettings(start_rps=100, growth=2))
    assert [r for r, _ in result.tried][:3] == [100, 50, 25]
    assert result.capacity_rps is not None and result.capacity_rps <= 20
    assert result.limited_by == "slo"


def test_a_server_slower_than_the_minimum_rate_has_no_capacity() -> None:
    result = search(server(1), SearchSettings(start_rps=40, growth=2, min_rps=5))
    assert result.capacity_rps is None and result.limited_by == "min_rate"


def test_an_invalid_step_stops_the_search_with_a_lower_bound() -> None:
    result = search(server(5000, generator_limit=700), SearchSettings(start_rps=100))
    assert result.limited_by == "generator"
    assert result.capacity_rps == 400  # the last rate the generator could drive; a lower bound
    assert result.tried[-1] == (800, "invalid")


def test_stops_at_the_maximum_rate() -> None:
    result = search(server(10**9), SearchSettings(start_rps=100, max_rps=1000))
    assert result.limited_by == "max_rate" and result.capacity_rps == 1000


def test_the_step_budget_bounds_the_search() -> None:
    result = search(server(777), SearchSettings(start_rps=1, growth=1.5, max_steps=6))
    assert len(result.tried) == 6 and result.limited_by == "steps"
