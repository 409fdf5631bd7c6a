"""Hardening: security headers on every response, and a bounded schemathesis fuzz with zero 5xx."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests import fhir_data as fd
from tests.conftest import StartService
from tests.servers import RunningService

EXPECTED_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/cds-services", None, 200),
        (
            "POST",
            "/cds-services/calcinosis-cutis-risk",
            fd.request_body(prefetch=fd.full_prefetch("p1", [])),
            200,
        ),
        ("POST", "/cds-services/calcinosis-cutis-risk", {"hook": "patient-view"}, 400),
        ("POST", "/cds-services/nope", {}, 404),
        ("GET", "/nope", None, 404),
    ],
)
def test_security_headers_on_every_response(
    service: RunningService, client: httpx.Client, method: str, path: str, body: object, status: int
) -> None:
    response = client.request(method, service.url + path, json=body)
    assert response.status_code == status
    assert {k: response.headers.get(k) for k in EXPECTED_HEADERS} == EXPECTED_HEADERS
    assert "server" not in response.headers


def test_fuzzed_requests_never_get_a_server_error(start_service: StartService) -> None:
    """schemathesis generates requests from our OpenAPI document (bounded: 40 per operation)."""
    # FHIR fetches may only go to a closed loopback port: the fuzzer never leaves the machine.
    service = start_service(fhir_server_allowlist=["http://127.0.0.1:9/fhir"], hook_budget_s=0.5)
    api = schemathesis.openapi.from_url(service.url + "/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} >= {"/cds-services", "/cds-services/{service_id}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call(base_url=service.url)
            case.validate_response(response, checks=[not_a_server_error])

        fuzz()
