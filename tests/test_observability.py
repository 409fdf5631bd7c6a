"""Operability: Prometheus metrics, request ids, and JSON logs that carry no patient data or token."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests import fhir_data as fd
from tests.servers import RunningService, ServiceProcess

ACCESS = "calcinosis_cds.access"
HOOK = "/cds-services/calcinosis-cutis-risk"


def test_metrics_count_requests_cards_and_rejections(service: RunningService, client: httpx.Client) -> None:
    labs = [fd.lab(fd.CALCIUM_MASS, 12.4, "mg/dL"), fd.lab("1751-7", 4.0, "g/dL")]
    assert (
        client.post(
            service.url + HOOK, json=fd.request_body(prefetch=fd.full_prefetch("p1", labs))
        ).status_code
        == 200
    )
    assert (
        client.post(service.url + HOOK, headers={"Authorization": "Bearer junk"}, json={}).status_code == 401
    )
    text = client.get(service.url + "/metrics").text
    assert 'cds_cards_total{indicator="warning",rule="metastatic-calcification"} 1.0' in text
    assert (
        'cds_http_requests_total{endpoint="/cds-services/{service_id}",method="POST",status="200"} 1.0'
        in text
    )
    assert 'cds_auth_rejections_total{reason="malformed"} 1.0' in text
    assert "cds_http_request_seconds_bucket" in text


def test_request_ids(service: RunningService, client: httpx.Client) -> None:
    fresh = client.get(service.url + "/healthz").headers["x-request-id"]
    assert len(fresh) == 36
    assert (
        client.get(service.url + "/healthz", headers={"X-Request-ID": "ehr-123.a"}).headers["x-request-id"]
        == "ehr-123.a"
    )
    unsafe = client.get(service.url + "/healthz", headers={"X-Request-ID": "x\\nforged log"}).headers[
        "x-request-id"
    ]
    assert unsafe != "x\\nforged log"


def test_json_logs_carry_no_patient_data_or_token(tmp_path: Path) -> None:
    canaries = {"pid": "pt-zz-4711", "name": "Canaryname", "token": "tok-canary-0815", "value": "13.37"}
    log_file = tmp_path / "service.log"
    with ServiceProcess(log_file=log_file, log_level="debug") as service, httpx.Client(timeout=10) as client:
        patient_fields = {"name": [{"family": canaries["name"]}]}
        prefetch = fd.full_prefetch(
            canaries["pid"], [fd.lab(fd.CALCIUM_MASS, 13.37, "mg/dL", pid=canaries["pid"])]
        )
        prefetch["patient"] |= patient_fields
        body = fd.request_body(
            pid=canaries["pid"],
            prefetch=prefetch,
            fhir_server="http://127.0.0.1:9/fhir",
            token=canaries["token"],
        )
        assert client.post(service.url + HOOK, json=body).status_code == 200
        missing = fd.request_body(
            pid=canaries["pid"], fhir_server="http://127.0.0.1:9/fhir", token=canaries["token"]
        )
        assert client.post(service.url + HOOK, json=missing).status_code == 412
    lines = [line for line in log_file.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"time", "level", "logger", "message", "requestId"} <= set(entries[0])
    assert any(e["logger"] == ACCESS and "hookInstance=" in e["message"] for e in entries)
    everything = log_file.read_text()
    for name, canary in canaries.items():
        assert canary not in everything, name


def test_openapi_docs_are_served(service: RunningService, client: httpx.Client) -> None:
    docs = client.get(service.url + "/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert "content-security-policy" not in docs.headers  # the docs page loads its own scripts
    schema = client.get(service.url + "/openapi.json").json()
    assert {"/cds-services", "/cds-services/{service_id}", "/cds-services/{service_id}/feedback"} <= set(
        schema["paths"]
    )


def test_the_access_log_never_holds_a_query_string(tmp_path: Path) -> None:
    """A JWT sent in a query string (``?access_token=``, RFC 6750 § 2.3) must not reach the access log."""
    canary = "eyJhbGciOiJFUzM4NCJ9.eyJjYW5hcnkiOiJ0b2tlbiJ9.c2lnLWNhbmFyeS0wODE1"
    log_file = tmp_path / "service.log"
    with ServiceProcess(log_file=log_file, log_level="info") as service, httpx.Client(timeout=10) as client:
        assert client.get(f"{service.url}/cds-services?access_token={canary}").status_code == 200
        body = fd.request_body(prefetch=fd.full_prefetch("p1", []))
        assert client.post(f"{service.url}{HOOK}?jwt={canary}", json=body).status_code == 200
        assert client.post(f"{service.url}{HOOK}/feedback?token={canary}", content=b"{").status_code == 400
        assert client.get(f"{service.url}/nope?access_token={canary}").status_code == 404
    entries = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    access = [e["message"] for e in entries if e["logger"] == ACCESS]
    assert any("request method=GET path=/cds-services status=200" in line for line in access), access
    assert any(f"request method=POST path={HOOK} status=200" in line for line in access), access
    assert any("request method=GET path=/nope status=404" in line for line in access), access
    assert canary not in log_file.read_text()
    assert "access_token" not in log_file.read_text()


def test_a_hook_call_writes_one_log_line(tmp_path: Path) -> None:
    """One line per call, written when the response is out, with what the call did (issue 16: a
    card-issuing call wrote three - the prefetch states, the answer, uvicorn's access line)."""
    log_file = tmp_path / "service.log"
    with ServiceProcess(log_file=log_file, log_level="info") as service, httpx.Client(timeout=10) as client:
        labs = [fd.lab(fd.CALCIUM_MASS, 14.5, "mg/dL")]
        body = fd.request_body(prefetch=fd.full_prefetch("p1", labs))
        answer = client.post(service.url + HOOK, json=body, headers={"X-Request-ID": "one-line"})
        assert len(answer.json()["cards"]) == 1
    entries = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    [line] = [e for e in entries if e["requestId"] == "one-line"]
    assert line["logger"] == ACCESS
    assert line["message"].startswith(f"request method=POST path={HOOK} status=200 ms=")
    for fact in (f"hookInstance={body['hookInstance']}", "cards=1", "suppressed=0", "prefetch={"):
        assert fact in line["message"]
