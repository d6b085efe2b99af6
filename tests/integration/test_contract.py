"""The HTTP contract, asserted against every registered stack."""

from __future__ import annotations

import math

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from servers.metrics import CONTRACT_METRICS
from servers.process import ServerProcess
from shared_model.cases import BAD, SEED_EXAMPLE, GoldenCase
from shared_model.predictor import Predictor
from shared_model.schemas import BatchPredictResponse, ErrorBody, PredictResponse


def _assert_answer(item: dict, case: GoldenCase) -> None:
    assert item["prediction"] == case.prediction, case.request
    assert math.isclose(item["probability"]["no_churn"], case.probability[0], abs_tol=1e-6)
    assert math.isclose(item["probability"]["churn"], case.probability[1], abs_tol=1e-6)


def test_single_predictions_equal_the_in_process_predictor(
    client: httpx.Client, server: ServerProcess, golden: list[GoldenCase], predictor: Predictor
) -> None:
    for case in golden:
        response = client.post(server.stack.paths["predict"], json=case.request)
        assert response.status_code == 200, response.text
        body = PredictResponse.model_validate(response.json())
        assert body.model_version == predictor.version
        _assert_answer(response.json(), case)


def test_batch_predictions_keep_order_and_equal_single_ones(
    client: httpx.Client, server: ServerProcess, golden: list[GoldenCase]
) -> None:
    items = [case.request for case in golden]
    response = client.post(server.stack.paths["batch"], json={"items": items})
    assert response.status_code == 200, response.text
    body = BatchPredictResponse.model_validate(response.json())
    assert body.batch_size == len(golden)
    for item, case in zip(response.json()["results"], golden, strict=True):
        _assert_answer(item, case)


@pytest.mark.parametrize("case", BAD, ids=[case.name for case in BAD])
def test_bad_input_gets_its_declared_4xx(
    client: httpx.Client, server: ServerProcess, case
) -> None:
    status, error_body = server.stack.expected_bad(case)
    response = client.request(
        case.method, case.path, content=case.body,
        headers={"content-type": case.content_type, **case.headers},
    )
    assert response.status_code == status, response.text[:300]
    if error_body:
        ErrorBody.model_validate(response.json())
    assert client.get(server.stack.paths["ready"]).status_code == 200


def test_errors_never_echo_internals(client: httpx.Client, server: ServerProcess) -> None:
    response = client.post(server.stack.paths["predict"], json={**SEED_EXAMPLE, "x": "/etc/passwd"})
    assert response.status_code < 500
    assert "Traceback" not in response.text and "/etc/passwd" not in response.text


def test_unknown_path_answers_404_with_error_body(
    client: httpx.Client, server: ServerProcess
) -> None:
    deviation = server.stack.deviation_for("unknown_path")
    response = client.get("/api/v1/nope")
    assert response.status_code == (deviation.status if deviation and deviation.status else 404)
    if deviation is None or deviation.error_body:
        assert ErrorBody.model_validate(response.json()).error == "not_found"


def _scrape(client: httpx.Client, server: ServerProcess) -> dict[tuple[str, tuple], float]:
    response = client.get(server.stack.paths["metrics"])
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _predictions(samples: dict, endpoint: str) -> float:
    key = ("ml_predictions_total", (("endpoint", endpoint), ("outcome", "success")))
    return samples.get(key, 0.0)


def test_metrics_carry_the_contract_names_and_count_exactly(
    client: httpx.Client, server: ServerProcess
) -> None:
    before = _scrape(client, server)
    names = {name for name, _ in before}
    for metric in CONTRACT_METRICS:
        suffixes = ("",) if metric.endswith("_total") else ("_bucket", "_count", "_sum")
        assert any(f"{metric}{suffix}" in names for suffix in suffixes), metric
    for _ in range(5):
        assert client.post(server.stack.paths["predict"], json=SEED_EXAMPLE).status_code == 200
    response = client.post(server.stack.paths["batch"], json={"items": [SEED_EXAMPLE] * 7})
    assert response.status_code == 200
    after = _scrape(client, server)
    assert _predictions(after, "single") - _predictions(before, "single") == 5
    assert _predictions(after, "batch") - _predictions(before, "batch") == 7


def test_info_reports_the_registry_knobs_and_model(
    client: httpx.Client, server: ServerProcess, predictor: Predictor
) -> None:
    info = client.get(server.stack.paths["info"]).json()
    assert info["stack"] == server.stack.name
    assert info["knobs"] == dict(server.stack.knobs)
    assert info["model"]["sha256"] == predictor.fingerprint
    # The process that answered runs with its startup heap frozen (knob gc_freeze).
    assert info["gc_frozen_objects"] > 10_000
    model = client.get(server.stack.paths["model"]).json()
    assert model["sha256"] == predictor.fingerprint
    assert model["profile"] == predictor.profile


def test_liveness_answers_while_ready(client: httpx.Client, server: ServerProcess) -> None:
    assert client.get(server.stack.paths["health"]).status_code == 200
    assert client.get(server.stack.paths["ready"]).status_code == 200
