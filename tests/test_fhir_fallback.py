"""The hook fetching its own data from a real FHIR server (Medplum engine) when prefetch is absent or failed.

Faults (slow, 401, 500, non-JSON, down) are injected at the FHIR server's edge, which we do not own.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest

from tests import fhir_data as fd
from tests.conftest import StartService
from tests.servers import FhirTestServer, RunningService, loopback_socket
from tests.test_http_api import error_codes, hook_url


def load_patient(fhir: FhirTestServer, labs: list[dict[str, Any]], pid: str = "p1") -> dict[str, Any]:
    """Store a patient and labs; returns the server's request stats after loading."""
    fhir.load([fd.patient(pid), *labs])
    return fhir.stats()


def call(client: httpx.Client, service: RunningService, fhir: FhirTestServer, **body: Any) -> httpx.Response:
    request = fd.request_body(fhir_server=fhir.base, token=fhir.token, **body)
    return client.post(hook_url(service), json=request)


def test_fetches_everything_without_prefetch(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client
) -> None:
    before = load_patient(
        fhir, [fd.lab(fd.CALCIUM_MASS, 12.5, "mg/dL", oid="ca"), fd.lab(fd.PHOSPHATE_MASS, 3.0, "mg/dL")]
    )
    response = call(client, service, fhir)
    assert response.status_code == 200, response.text
    assert [c["summary"] for c in response.json()["cards"]] == [
        "Moderate hypercalcemia (total Ca 12.5 mg/dL): metastatic calcification risk"
    ]
    assert fhir.requests_since(before) == {
        "Patient": 1,
        "Observation": 1,
        "Condition": 1,
        "MedicationRequest": 1,
        "MedicationAdministration": 1,
        "Procedure": 1,
    }


def test_other_patients_data_is_not_used(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client
) -> None:
    load_patient(fhir, [fd.lab(fd.CALCIUM_MASS, 9.0, "mg/dL")])
    load_patient(fhir, [fd.lab(fd.CALCIUM_MASS, 14.5, "mg/dL", pid="p2")], pid="p2")
    assert call(client, service, fhir).json() == {"cards": []}


def test_null_keys_are_not_fetched(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client
) -> None:
    before = load_patient(fhir, [fd.lab(fd.CALCIUM_MASS, 14.5, "mg/dL")])
    prefetch = {"patient": fd.patient(), **dict.fromkeys(fd.EMPTY_KEYS)}
    response = call(client, service, fhir, prefetch=prefetch)
    assert response.json()["cards"][0]["indicator"] == "critical"
    assert fhir.requests_since(before) == {"Observation": 1}


def test_failed_prefetch_keys_are_fetched(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client
) -> None:
    before = load_patient(fhir, [fd.lab(fd.CALCIUM_MASS, 14.5, "mg/dL")])
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    prefetch: dict[str, Any] = {**fd.full_prefetch("p1", []), "labs": outcome}
    response = call(client, service, fhir, prefetch=prefetch)
    assert response.json()["cards"][0]["indicator"] == "critical"
    assert fhir.requests_since(before) == {"Observation": 1}


def test_paging_links_are_followed(
    fhir: FhirTestServer, start_service: StartService, client: httpx.Client
) -> None:
    service = start_service(fhir_page_size=2)
    labs = [fd.lab(fd.CALCIUM_MASS, 9.0, "mg/dL", days_ago=d) for d in range(2, 9)]
    before = load_patient(fhir, [*labs, fd.lab(fd.CALCIUM_MASS, 14.2, "mg/dL", days_ago=1)])
    response = call(client, service, fhir)
    assert response.json()["cards"][0]["indicator"] == "critical"
    assert fhir.requests_since(before)["Observation"] == 4  # 8 results, 2 per page


def test_too_many_pages_is_412(
    fhir: FhirTestServer, start_service: StartService, client: httpx.Client
) -> None:
    service = start_service(fhir_page_size=1, fhir_max_pages=2)
    load_patient(fhir, [fd.lab(fd.CALCIUM_MASS, 9.0, "mg/dL", days_ago=d) for d in range(1, 5)])
    response = call(client, service, fhir)
    assert response.status_code == 412
    assert "fhir-too-many-pages" in response.text


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"status": 401}, "fhir-unauthorized"),
        ({"status": 403}, "fhir-forbidden"),
        ({"status": 500}, "fhir-server-error"),
        ({"status": 200, "body": "<html>oops</html>", "contentType": "text/html"}, "fhir-bad-response"),
        ({"status": 200, "body": "[1,2]", "contentType": "application/json"}, "fhir-bad-response"),
        ({"status": 302, "body": "", "contentType": "text/plain"}, "fhir-redirect-refused"),
    ],
)
def test_fhir_faults_give_412_naming_the_key(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client, fault: dict[str, Any], reason: str
) -> None:
    load_patient(fhir, [])
    fhir.fault(match="Observation", **fault)
    response = call(client, service, fhir)
    assert response.status_code == 412
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["prefetch.labs"]
    assert reason in issue["details"]["text"]


def test_wrong_token_is_412(fhir: FhirTestServer, service: RunningService, client: httpx.Client) -> None:
    load_patient(fhir, [])
    request = fd.request_body(fhir_server=fhir.base, token="not-the-token")
    response = client.post(hook_url(service), json=request)
    assert response.status_code == 412
    assert "fhir-unauthorized" in response.text


def test_slow_server_is_412_within_the_budget(
    fhir: FhirTestServer, start_service: StartService, client: httpx.Client
) -> None:
    service = start_service(hook_budget_s=0.8, fhir_timeout_s=5)
    load_patient(fhir, [])
    fhir.fault(match="Observation", delayMs=3000)
    started = time.monotonic()
    response = call(client, service, fhir)
    elapsed = time.monotonic() - started
    assert response.status_code == 412
    assert "budget-exhausted" in response.text
    assert elapsed < 1.5


def test_per_call_timeout(fhir: FhirTestServer, start_service: StartService, client: httpx.Client) -> None:
    service = start_service(hook_budget_s=5, fhir_timeout_s=0.3)
    load_patient(fhir, [])
    fhir.fault(match="Condition", delayMs=2000)
    response = call(client, service, fhir)
    assert response.status_code == 412
    issue = response.json()["issue"][0]
    assert (issue["expression"], "fhir-timeout" in issue["details"]["text"]) == (
        ["prefetch.conditions"],
        True,
    )


def test_server_down_is_412(start_service: StartService, client: httpx.Client) -> None:
    sock = loopback_socket()  # bound but never listening: connections are refused
    port = sock.getsockname()[1]
    service = start_service()
    request = fd.request_body(fhir_server=f"http://127.0.0.1:{port}/fhir", token="t")
    started = time.monotonic()
    response = client.post(hook_url(service), json=request)
    sock.close()
    assert response.status_code == 412
    assert "fhir-unreachable" in response.text
    assert time.monotonic() - started < 2


def test_fetches_run_concurrently(
    fhir: FhirTestServer, start_service: StartService, client: httpx.Client
) -> None:
    service = start_service(hook_budget_s=5)
    load_patient(fhir, [])
    fhir.fault(delayMs=400)  # every query takes 0.4 s; six keys in sequence would take 2.4 s
    started = time.monotonic()
    response = call(client, service, fhir)
    assert response.status_code == 200
    assert time.monotonic() - started < 1.2


def test_fhir_server_outside_allowlist_is_412_without_a_request(
    fhir: FhirTestServer, start_service: StartService, client: httpx.Client
) -> None:
    service = start_service(fhir_server_allowlist=[f"{fhir.origin}/other"])
    before = fhir.stats()
    response = call(client, service, fhir)
    assert response.status_code == 412
    assert error_codes(response) == ["fhir.server-not-allowed"]
    assert fhir.requests_since(before) == {}


def test_next_link_to_another_host_is_refused(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client
) -> None:
    load_patient(fhir, [])
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": f"http://127.0.0.2:{fhir.port}/fhir/Observation?page=2"}],
    }
    fhir.fault(match="Observation", status=200, body=json.dumps(page), times=1)
    before = fhir.stats()
    response = call(client, service, fhir)
    assert response.status_code == 412
    assert "fhir-url-refused" in response.json()["issue"][0]["details"]["text"]
    assert fhir.requests_since(before).get("Observation") == 1


def test_no_token_or_clinical_value_reaches_the_logs(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    canary_name, canary_pid = "Zzyzx-Canary-Name", "pt-canary-4242"
    patient = fd.patient(canary_pid) | {"name": [{"family": canary_name}]}
    fhir.load([patient, fd.lab(fd.CALCIUM_MASS, 13.37, "mg/dL", pid=canary_pid)])
    caplog.set_level(logging.DEBUG)
    assert call(client, service, fhir, pid=canary_pid).status_code == 200
    request = fd.request_body(pid=canary_pid, fhir_server=fhir.base, token="canary-token-value")
    assert client.post(hook_url(service), json=request).status_code == 412
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "hookInstance=" in logged  # the service did log this call
    for secret in (fhir.token, "canary-token-value", canary_name, "13.37", canary_pid):
        assert secret not in logged
