"""The test FHIR server as a browser client (the CDS Hooks sandbox) uses it: CORS on every answer, preflights
answered without a token, Private Network Access, POST ``_search`` with a form body answered with its first
page, ``total`` and a ``next`` link, and an open mode without a token (tests/fhir_server/README.md)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.servers import FhirTestServer

SANDBOX_ORIGIN = "http://127.0.0.1:8000"
DEFAULT_PAGE = 20


def condition(patient: str, number: int) -> dict[str, object]:
    return {
        "resourceType": "Condition",
        "id": f"{patient}-c{number}",
        "code": {"text": f"condition {number}"},
        "subject": {"reference": f"Patient/{patient}"},
    }


def test_every_answer_allows_any_origin(fhir: FhirTestServer) -> None:
    answered = fhir.admin.get("/fhir/metadata", headers={"Origin": SANDBOX_ORIGIN})
    refused = httpx.get(f"{fhir.base}/metadata", headers={"Origin": SANDBOX_ORIGIN})
    assert (answered.status_code, refused.status_code) == (200, 401)
    for response in (answered, refused):  # the page can read an error too
        assert response.headers["access-control-allow-origin"] == "*"
        assert "ETag" in response.headers["access-control-expose-headers"]


def test_a_preflight_is_answered_without_the_token(fhir: FhirTestServer) -> None:
    before = fhir.stats()["requests"]
    response = httpx.options(
        f"{fhir.base}/Observation/_search",
        headers={
            "Origin": SANDBOX_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"].split(", ")
    assert response.headers["access-control-allow-headers"] == "authorization,content-type"
    assert "access-control-allow-private-network" not in response.headers
    assert fhir.stats()["requests"] == before  # a preflight is not a FHIR request


def test_a_private_network_preflight_is_allowed(fhir: FhirTestServer) -> None:
    """Chrome asks before a public https page (the hosted sandbox) may call a loopback server."""
    response = httpx.options(
        f"{fhir.base}/metadata",
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-private-network"] == "true"


def test_a_form_search_answers_its_first_page_with_total_and_next(fhir: FhirTestServer) -> None:
    """What the sandbox prefetches: POST Type/_search, form body, the server's default page size."""
    fhir.load([condition("p1", n) for n in range(DEFAULT_PAGE + 5)] + [condition("p2", 0)])
    response = fhir.admin.post(
        "/fhir/Condition/_search",
        content="patient=p1",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": SANDBOX_ORIGIN},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    page = response.json()
    assert (page["type"], page["total"], len(page["entry"])) == ("searchset", DEFAULT_PAGE + 5, DEFAULT_PAGE)
    (next_url,) = [link["url"] for link in page["link"] if link["relation"] == "next"]
    rest = fhir.admin.get(next_url).json()
    ids = [e["resource"]["id"] for e in page["entry"] + rest["entry"]]
    assert sorted(ids) == sorted(f"p1-c{n}" for n in range(DEFAULT_PAGE + 5))


@pytest.fixture
def open_server() -> Iterator[FhirTestServer]:
    server = FhirTestServer(token=None)
    yield server
    server.close()


def test_without_a_token_the_server_is_open(open_server: FhirTestServer) -> None:
    assert httpx.get(f"{open_server.base}/metadata").status_code == 200
    open_server.put(condition("p1", 1))
    assert httpx.get(f"{open_server.base}/Condition/p1-c1").status_code == 200
