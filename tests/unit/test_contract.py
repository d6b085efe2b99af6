from __future__ import annotations

import json

import pytest

from servers.contract import ContractError, check_media_type, error_payload, parse_batch, parse_single
from shared_model.cases import BAD, GOLDEN_REQUESTS
from shared_model.schemas import ErrorBody


def test_every_golden_request_parses() -> None:
    for request in GOLDEN_REQUESTS:
        parse_single(json.dumps(request).encode())


@pytest.mark.parametrize("case", [c for c in BAD if c.status == 422], ids=lambda c: c.name)
def test_bad_bodies_fail_to_parse_with_field_details(case) -> None:
    parse = parse_batch if case.path.endswith("/batch") else parse_single
    with pytest.raises(ContractError) as caught:
        parse(case.body)
    error = caught.value
    assert error.status == 422
    body = ErrorBody.model_validate_json(error.body())
    assert body.details, "a 422 must say which fields were wrong"


def test_error_details_never_echo_the_input() -> None:
    secret = "x" * 50 + "-secret"
    with pytest.raises(ContractError) as caught:
        parse_single(json.dumps({"contract_type": secret}).encode())
    assert secret not in caught.value.body().decode()


def test_media_type_must_be_json() -> None:
    check_media_type("application/json; charset=utf-8")
    for bad in (None, "text/plain", "application/jsonx"):
        with pytest.raises(ContractError) as caught:
            check_media_type(bad)
        assert caught.value.status == 415


def test_error_payload_is_an_error_body() -> None:
    body = ErrorBody.model_validate_json(error_payload("internal_error", "boom", "abc"))
    assert body.request_id == "abc" and body.details == []
