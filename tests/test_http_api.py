"""The HTTP surface over real uvicorn: discovery, the hook with prefetch, CORS, and every 4xx path."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cards.render import PROVENANCE
from service.api.wire import HookResponse
from tests import fhir_data as fd
from tests.conftest import StartService
from tests.reference_data import EXAMPLES, load
from tests.servers import RunningService

GOLDEN = Path(__file__).parent / "golden"
SERVICE_ID = "calcinosis-cutis-risk"


def hook_url(service: RunningService, service_id: str = SERVICE_ID) -> str:
    return f"{service.url}/cds-services/{service_id}"


def error_codes(response: httpx.Response) -> list[str]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return [issue["details"]["coding"][0]["code"] for issue in body["issue"]]


def test_discovery_matches_golden_document(service: RunningService, client: httpx.Client) -> None:
    response = client.get(f"{service.url}/cds-services")
    assert response.status_code == 200
    assert response.json() == json.loads((GOLDEN / "discovery.json").read_text())


def test_discovery_uses_r4_search_syntax(service: RunningService, client: httpx.Client) -> None:
    for description in client.get(f"{service.url}/cds-services").json()["services"]:
        for template in description["prefetch"].values():
            assert "sort:desc" not in template
            assert "{{context.patientId}}" in template


def test_hook_with_full_prefetch_returns_card(service: RunningService, client: httpx.Client) -> None:
    labs = [fd.lab(fd.CALCIUM_MOLAR, 3.6, "mmol/L", oid="ca1")]
    body = fd.request_body(prefetch=fd.full_prefetch("p1", labs))
    response = client.post(hook_url(service), json=body)
    assert response.status_code == 200, response.text
    cards = HookResponse.model_validate(response.json()).cards
    assert [(c.indicator, c.summary) for c in cards] == [
        ("critical", "Severe hypercalcemia (total Ca 14.4 mg/dL): same-day evaluation")
    ]
    evidence = response.json()["cards"][0]["extension"][PROVENANCE]["evidence"]
    assert "Observation/ca1" in [row["reference"] for row in evidence]


def test_hook_with_normal_labs_returns_no_cards(service: RunningService, client: httpx.Client) -> None:
    body = fd.request_body(prefetch=fd.full_prefetch("p1", [fd.lab(fd.CALCIUM_MASS, 9.4, "mg/dL")]))
    response = client.post(hook_url(service), json=body)
    assert (response.status_code, response.json()) == (200, {"cards": []})


def test_null_prefetch_keys_mean_no_data(service: RunningService, client: httpx.Client) -> None:
    prefetch: dict[str, Any] = dict.fromkeys(("labs", *fd.EMPTY_KEYS))
    prefetch["patient"] = fd.patient()
    response = client.post(hook_url(service), json=fd.request_body(prefetch=prefetch))
    assert (response.status_code, response.json()) == (200, {"cards": []})


def test_missing_keys_without_fhir_server_is_412(service: RunningService, client: httpx.Client) -> None:
    response = client.post(hook_url(service), json=fd.request_body(prefetch={"patient": fd.patient()}))
    assert response.status_code == 412
    assert set(error_codes(response)) == {"prefetch.unavailable"}
    expressions = {i["expression"][0] for i in response.json()["issue"]}
    assert expressions == {f"prefetch.{k}" for k in ("labs", *fd.EMPTY_KEYS)}


def test_spec_example_request_is_412_within_budget(start_service: StartService, client: httpx.Client) -> None:
    # Its fhirServer is a public host: allow only loopback so the test never leaves the machine.
    service = start_service(fhir_server_allowlist=["http://127.0.0.1:9/fhir"], hook_budget_s=1.0)
    started = time.monotonic()
    response = client.post(
        hook_url(service), content=(EXAMPLES / "spec-2.0.1" / "01-patient-view-request.json").read_bytes()
    )
    assert time.monotonic() - started < 1.0
    assert response.status_code == 412
    assert error_codes(response) == ["fhir.server-not-allowed"]


def test_cors_preflight_needs_no_credentials(service: RunningService, client: httpx.Client) -> None:
    response = client.options(
        hook_url(service),
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed


def test_health_and_readiness(service: RunningService, client: httpx.Client) -> None:
    assert client.get(f"{service.url}/healthz").json() == {"status": "ok"}
    assert client.get(f"{service.url}/readyz").json() == {"status": "ready"}


def test_no_server_banner(service: RunningService, client: httpx.Client) -> None:
    assert "server" not in client.get(f"{service.url}/healthz").headers


def _without(path: str) -> dict[str, Any]:
    body = fd.request_body(prefetch=fd.full_prefetch("p1", []))
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    del target[last]
    return body


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "request.malformed-json"),
        (b"[1, 2]", 400, "request.malformed-json"),
        (b"", 400, "request.malformed-json"),
        (b'{"a": NaN}', 400, "request.malformed-json"),
        (b"[" * 5000 + b"]" * 5000, 400, "request.malformed-json"),
        (json.dumps(_without("hook")).encode(), 400, "request.invalid"),
        (json.dumps(_without("hookInstance")).encode(), 400, "request.invalid"),
        (json.dumps(_without("context")).encode(), 400, "request.invalid"),
        (json.dumps(_without("context.patientId")).encode(), 400, "request.invalid"),
        (json.dumps(_without("context.userId")).encode(), 400, "request.invalid"),
        (json.dumps({**fd.request_body(), "hook": "order-sign"}).encode(), 400, "request.hook-mismatch"),
        (json.dumps({**fd.request_body(token="t")}).encode(), 400, "request.invalid"),
        (json.dumps({**fd.request_body(), "context": "p1"}).encode(), 400, "request.invalid"),
        (json.dumps({**fd.request_body(), "prefetch": [1]}).encode(), 400, "request.invalid"),
    ],
    ids=[
        "malformed",
        "array",
        "empty",
        "nan",
        "too-deep",
        "no-hook",
        "no-hookInstance",
        "no-context",
        "no-patientId",
        "no-userId",
        "wrong-hook",
        "auth-without-server",
        "context-not-object",
        "prefetch-not-object",
    ],
)
def test_bad_requests_get_operation_outcome(
    service: RunningService, client: httpx.Client, content: bytes, status: int, code: str
) -> None:
    response = client.post(hook_url(service), content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/fhir+json"
    assert code in error_codes(response)
    assert "Traceback" not in response.text


def test_missing_field_is_named(service: RunningService, client: httpx.Client) -> None:
    response = client.post(hook_url(service), json=_without("context.patientId"))
    assert response.json()["issue"][0]["expression"] == ["context.patientId"]


def test_unknown_service_is_404(service: RunningService, client: httpx.Client) -> None:
    response = client.post(hook_url(service, "no-such-service"), json=fd.request_body())
    assert response.status_code == 404
    assert error_codes(response) == ["service.unknown"]


def test_unknown_route_and_wrong_method(service: RunningService, client: httpx.Client) -> None:
    assert error_codes(client.get(f"{service.url}/nope")) == ["http.not-found"]
    response = client.get(hook_url(service))
    assert (response.status_code, error_codes(response)) == (405, ["http.method-not-allowed"])


@pytest.mark.parametrize("chunked", [False, True])
def test_body_over_limit_is_413(start_service: StartService, client: httpx.Client, chunked: bool) -> None:
    service = start_service(max_body_bytes=2048)
    payload = json.dumps(fd.request_body(prefetch={"pad": "x" * 4096})).encode()
    content: Any = iter([payload[:1000], payload[1000:]]) if chunked else payload
    response = client.post(hook_url(service), content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert error_codes(response) == ["request.body-too-large"]


def test_spec_and_ig_example_requests_never_5xx(start_service: StartService, client: httpx.Client) -> None:
    service = start_service(fhir_server_allowlist=["http://127.0.0.1:9/fhir"])
    for path in [
        EXAMPLES / "spec-2.0.1" / "01-patient-view-request.json",
        EXAMPLES / "fhir-tools-ig" / "Binary-CDSHooksRequestPV.json",
    ]:
        response = client.post(hook_url(service), json=load(path))
        assert response.status_code in {200, 412}, path
