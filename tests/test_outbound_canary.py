"""No request leaves the allowed FHIR base: the service under uvicorn against a loopback canary server.

The canary records the raw target of every request. Inside ``/fhir/`` it answers searches with empty
Bundles; anywhere else (``/admin/...``) with a critical calcium, so a card in the response means the
service used an answer from outside the base. Each escaping target is judged independently of the
service's normaliser: percent-decoded naively, as a decoding proxy would, it must start with ``/fhir/``
and hold no dot segment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests import fhir_data as fd
from tests.conftest import StartService
from tests.loopback_fhir import LoopbackFhir, Reply, json_reply
from tests.servers import FhirTestServer, RunningService
from tests.test_http_api import error_codes, hook_url

CRITICAL = fd.lab(fd.CALCIUM_MASS, 14.5, "mg/dL", oid="canary-ca")
CANARY_TOKEN = "ehr-token-for-the-canary"  # noqa: S105 - a test value the canary never checks


class Canary:
    """A loopback FHIR server whose first Observation page may carry a ``next`` link (``next_url``)."""

    def __init__(self) -> None:
        self.next_url: str | None = None
        self.server = LoopbackFhir(self._route)

    @property
    def origin(self) -> str:
        return self.server.origin

    def _route(self, target: str) -> Reply:
        path = target.partition("?")[0]
        if path.endswith("/Patient/p1"):
            return json_reply(fd.patient())
        inside = path.startswith("/fhir/")
        second_page = "page=2" in target
        page = fd.bundle([] if inside and not second_page else [CRITICAL])
        if inside and path == "/fhir/Observation" and not second_page and self.next_url:
            page["link"] = [{"relation": "next", "url": self.next_url}]
        return json_reply(page)

    def escaped(self) -> list[str]:
        """Targets outside ``/fhir/`` once percent-decoded, or with a dot segment."""
        bad = []
        for target in self.server.targets:
            segments = unquote(target.partition("?")[0]).split("/")
            if segments[:2] != ["", "fhir"] or {".", ".."} & set(segments):
                bad.append(target)
        return bad


@pytest.fixture
def canary() -> Iterator[Canary]:
    canary = Canary()
    with canary.server:
        yield canary


@pytest.fixture
def guarded(canary: Canary, start_service: StartService) -> RunningService:
    """The service allowed to call the canary's ``/fhir`` base only."""
    return start_service(fhir_server_allowlist=[f"{canary.origin}/fhir"])


def call(
    client: httpx.Client, service: RunningService, fhir_server: str, token: str = CANARY_TOKEN
) -> httpx.Response:
    return client.post(hook_url(service), json=fd.request_body(fhir_server=fhir_server, token=token))


def cards(response: httpx.Response) -> list[Any]:
    body = response.json()
    return list(body.get("cards", []))


@pytest.mark.parametrize(
    "escape",
    ["/fhir/../admin", "/fhir/%2e%2e/admin", "/fhir/%2E%2E/admin", "/fhir/.%2e/admin", "/fhir/./../admin"],
)
def test_fhir_server_escaping_the_allowed_base_is_refused_without_a_request(
    canary: Canary, guarded: RunningService, client: httpx.Client, escape: str
) -> None:
    response = call(client, guarded, canary.origin + escape)
    assert (response.status_code, error_codes(response)) == (412, ["fhir.server-not-allowed"])
    assert canary.server.targets == []


@pytest.mark.parametrize(
    "shape",
    [
        "{origin}/fhir?_format=json",
        "{origin}/fhir?",
        "{origin}/fhir#top",
        "http://user:pw@{host}/fhir",
        "http://{host}@evil.invalid/fhir",
        "{origin}/fhir/..%2fadmin",
        "{origin}/fhir\\..\\admin",
        "{origin}/fhir/..;/admin",
    ],
)
def test_fhir_server_with_query_fragment_or_userinfo_is_400(
    canary: Canary, guarded: RunningService, client: httpx.Client, shape: str
) -> None:
    fhir_server = shape.format(origin=canary.origin, host=canary.origin.removeprefix("http://"))
    response = call(client, guarded, fhir_server)
    assert (response.status_code, error_codes(response)) == (400, ["request.invalid"])
    assert response.json()["issue"][0]["expression"] == ["fhirServer"]
    assert canary.server.targets == []


@pytest.mark.parametrize(
    "escape",
    [
        "/fhir/../admin/Observation?page=2",
        "/fhir/%2e%2e/admin/Observation?page=2",
        "/fhir/Observation/../../admin/Observation?page=2",
        "/fhir/./../admin/Observation?page=2",
        "/fhir/..;/admin/Observation?page=2",
    ],
)
def test_next_link_escaping_the_base_is_refused(
    canary: Canary, guarded: RunningService, client: httpx.Client, escape: str
) -> None:
    canary.next_url = canary.origin + escape
    response = call(client, guarded, f"{canary.origin}/fhir")
    assert response.status_code == 412, response.text
    issue = response.json()["issue"][0]
    assert (issue["expression"], "fhir-url-refused" in issue["details"]["text"]) == (["prefetch.labs"], True)
    assert canary.escaped() == []
    # At most one request per prefetch key and nothing followed: once the labs key fails, the others may be
    # cancelled before their request is sent (how many were sent depends on timing).
    assert 1 <= len(canary.server.targets) <= 6
    assert all(target.startswith("/fhir/") for target in canary.server.targets)


def test_next_link_inside_the_base_is_followed(
    canary: Canary, guarded: RunningService, client: httpx.Client
) -> None:
    """The control: the canary's critical lab does become a card when it is served from inside the base."""
    canary.next_url = f"{canary.origin}/fhir/Observation?page=2"
    response = call(client, guarded, f"{canary.origin}/fhir/")
    assert response.status_code == 200, response.text
    assert [card["indicator"] for card in cards(response)] == ["critical"]
    assert canary.escaped() == []
    assert len(canary.server.targets) == 7


def test_the_normal_form_is_what_a_real_fhir_server_receives(
    fhir: FhirTestServer, start_service: StartService, client: httpx.Client
) -> None:
    """A fhirServer with dot segments is judged and called in its normal form (Medplum's request log)."""
    service = start_service(fhir_server_allowlist=[fhir.base])
    fhir.load([fd.patient(), CRITICAL])
    response = call(client, service, f"HTTP://127.0.0.1:{fhir.port}/x/%2E%2E/fhir/./", fhir.token)
    assert response.status_code == 200, response.text
    assert [card["indicator"] for card in cards(response)] == ["critical"]
    sent = [entry["url"] for entry in fhir.stats()["recent"] if entry["method"] == "GET"]
    assert len(sent) == 6
    assert all(url.startswith("/fhir/") and "." not in unquote(url.partition("?")[0]) for url in sent), sent
