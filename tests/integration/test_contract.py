"""The HTTP contract, asserted against every registered stack, in the stack's own protocol.

A stack that serves the contract natively is held to it byte for byte; one that declares a
native protocol (servers/protocols.py) gets the same rows and the same bad cases translated
into it, and is held to the statuses its declared deviations announce.
"""

from __future__ import annotations

import math

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from servers.metrics import CONTRACT_METRICS
from servers.process import ServerProcess
from servers.protocols import CONTRACT, Answer
from servers.registry import STACKS
from shared_model.cases import BAD, SEED_EXAMPLE, BadCase, GoldenCase
from shared_model.predictor import Predictor
from shared_model.schemas import BatchPredictResponse, ErrorBody, PredictResponse
from tests.integration.native import get, predict, send


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A bad case is asked of each stack whose protocol can carry it (the contract's batch
    envelope has no counterpart in a tensor protocol, for one)."""
    if "case" in metafunc.fixturenames:
        pairs = [(name, case) for name, stack in STACKS.items() for case in BAD
                 if stack.protocol.bad_request(case, stack.paths) is not None]
        metafunc.parametrize(("server", "case"), pairs, indirect=["server"], scope="module",
                             ids=[f"{name}-{case.name}" for name, case in pairs])


def _assert_answer(answer: Answer, case: GoldenCase) -> None:
    assert answer.prediction == case.prediction, case.request
    assert answer.probability is not None
    assert math.isclose(answer.probability["no_churn"], case.probability[0], abs_tol=1e-6)
    assert math.isclose(answer.probability["churn"], case.probability[1], abs_tol=1e-6)


def test_single_predictions_equal_the_in_process_predictor(
    server: ServerProcess, golden: list[GoldenCase], predictor: Predictor
) -> None:
    for case in golden:
        response, answers = predict(server, [case.request], batch=False)
        assert response.status_code == 200, response.text
        assert answers is not None
        _assert_answer(answers[0], case)
        if server.stack.protocol is CONTRACT:
            assert PredictResponse.model_validate(response.json()).model_version == predictor.version


def test_batch_predictions_keep_order_and_equal_single_ones(
    server: ServerProcess, golden: list[GoldenCase]
) -> None:
    response, answers = predict(server, [case.request for case in golden], batch=True)
    assert response.status_code == 200, response.text
    assert answers is not None
    for answer, case in zip(answers, golden, strict=True):
        _assert_answer(answer, case)
    if server.stack.protocol is CONTRACT:
        assert BatchPredictResponse.model_validate(response.json()).batch_size == len(golden)


def test_bad_input_gets_its_declared_status(server: ServerProcess, case: BadCase) -> None:
    stack = server.stack
    native = stack.protocol.bad_request(case, stack.paths)
    assert native is not None
    status, error_body = stack.expected_bad(case)
    response = send(server, native)
    assert response.status_code == status, response.text[:300]
    if error_body:
        ErrorBody.model_validate(response.json())
    assert get(server, "ready").status_code == 200


def test_errors_never_echo_internals(server: ServerProcess) -> None:
    response, _ = predict(server, [{**SEED_EXAMPLE, "x": "/etc/passwd"}], batch=False)
    assert response.status_code < 500
    assert "Traceback" not in response.text and "/etc/passwd" not in response.text


def test_unknown_path_answers_404_with_error_body(server: ServerProcess) -> None:
    deviation = server.stack.deviation_for("unknown_path", "not_found")
    response = httpx.get(server.url + "/api/v1/nope", timeout=5)
    assert response.status_code == (deviation.status if deviation and deviation.status else 404)
    if deviation is None or deviation.error_body:
        assert ErrorBody.model_validate(response.json()).error == "not_found"


def _scrape(server: ServerProcess) -> dict[tuple[str, tuple], float]:
    response = get(server, "metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _predictions(samples: dict, endpoint: str) -> float:
    return sum(value for (name, labels), value in samples.items() if name == "ml_predictions_total"
               and ("endpoint", endpoint) in labels and ("outcome", "success") in labels)


def test_metrics_carry_the_contract_names_and_count_exactly(server: ServerProcess) -> None:
    declared = server.stack.deviation_for("ml_metrics")
    if declared is not None:
        # No ml_* metrics, as declared: /metrics answers as declared (or with the framework's own).
        response = get(server, "metrics")
        assert response.status_code == (declared.status or 200)
        assert "ml_predictions_total" not in response.text
    else:
        _assert_contract_metrics_count(server)


def _assert_contract_metrics_count(server: ServerProcess) -> None:
    before = _scrape(server)
    names = {name for name, _ in before}
    for metric in CONTRACT_METRICS:
        if metric == "ml_queue_wait_seconds" and server.stack.deviation_for("queue_wait") is not None:
            continue
        suffixes = ("",) if metric.endswith("_total") else ("_bucket", "_count", "_sum")
        assert any(f"{metric}{suffix}" in names for suffix in suffixes), metric
    with httpx.Client(timeout=20) as client:
        for _ in range(5):
            assert predict(server, [SEED_EXAMPLE], False, client)[0].status_code == 200
        assert predict(server, [SEED_EXAMPLE] * 7, True, client)[0].status_code == 200
    after = _scrape(server)
    assert _predictions(after, "single") - _predictions(before, "single") == 5
    assert _predictions(after, "batch") - _predictions(before, "batch") == 7


def test_info_reports_the_registry_knobs_and_model(server: ServerProcess, predictor: Predictor) -> None:
    declared = server.stack.deviation_for("info")
    if declared is not None:
        # The framework's own metadata stands for /info, as declared: it answers, without knobs.
        response = get(server, "info")
        assert response.status_code == 200 and "gc_frozen_objects" not in response.text
    else:
        _assert_info(server, predictor)


def _assert_info(server: ServerProcess, predictor: Predictor) -> None:
    info = get(server, "info").json()
    assert info["stack"] == server.stack.name
    assert info["knobs"] == dict(server.stack.knobs)
    assert info["model"]["sha256"] == predictor.fingerprint
    # The process that answered runs with its startup heap frozen (knob gc_freeze).
    assert info["gc_frozen_objects"] > 10_000
    model = get(server, "model").json()
    assert model["sha256"] == predictor.fingerprint
    assert model["profile"] == predictor.profile


def test_liveness_answers_while_ready(server: ServerProcess) -> None:
    assert get(server, "health").status_code == 200
    assert get(server, "ready").status_code == 200

