"""One bad record never costs a card (issue 11), through real HTTP: each test reproduces a defect first.

A value a formula cannot take, a failing rule, a result dated in the future, a reference to another
patient and a prefetch about somebody else: none may crash the call, hide another card, or put another
patient's data on this chart.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

from cards import tumoral
from cards.config import RuleConfig
from cards.finding import Finding
from cards.given import Given
from cards.render import PROVENANCE
from tests import fhir_data as fd
from tests.conftest import StartService
from tests.servers import FhirTestServer, RunningService
from tests.test_http_api import error_codes, hook_url

CREATININE_MASS = "2160-0"


def post(
    client: httpx.Client, service: RunningService, prefetch: dict[str, Any], **body: Any
) -> httpx.Response:
    return client.post(hook_url(service), json=fd.request_body(prefetch=prefetch, **body))


def summaries(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.text
    return [(c["indicator"], c["summary"]) for c in response.json()["cards"]]


def critical_calcium(**extra: Any) -> dict[str, Any]:
    return fd.lab(fd.CALCIUM_MASS, 15.0, "mg/dL", oid="ca-now", **extra)


@pytest.mark.parametrize("creatinine", [0, -1.2])
def test_an_impossible_creatinine_from_2020_does_not_cost_the_critical_card(
    service: RunningService, client: httpx.Client, creatinine: float
) -> None:
    old = fd.lab(CREATININE_MASS, creatinine, "mg/dL", oid="cr-2020", effectiveDateTime="2020-03-01")
    response = post(client, service, fd.full_prefetch("p1", [critical_calcium(), old]))
    assert [indicator for indicator, _ in summaries(response)] == ["critical"]


def test_a_failing_rule_is_logged_counted_and_the_other_cards_still_arrive(
    monkeypatch: pytest.MonkeyPatch,
    start_service: StartService,
    client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def planted(given: Given, config: RuleConfig, now: object) -> list[Finding]:
        raise ZeroDivisionError("planted fault")

    failing = tumoral.load_config().rule.id
    monkeypatch.setattr(tumoral, "evaluate", planted)  # the service finds its pathways by module name
    service = start_service()
    with caplog.at_level(logging.ERROR, logger="calcinosis_cds.hook"):
        response = post(client, service, fd.full_prefetch("p1", [critical_calcium()]))
    assert [indicator for indicator, _ in summaries(response)] == ["critical"]
    metrics = client.get(f"{service.url}/metrics").text
    assert f'cds_rule_failures_total{{rule="{failing}"}} 1.0' in metrics
    [line] = [r.getMessage() for r in caplog.records if "rule failed" in r.getMessage()]
    assert re.search(rf"rule={failing} incident=[0-9a-f-]{{36}} .*error=ZeroDivisionError at=", line)
    assert "planted fault" not in line  # the message may carry a clinical value: never logged


def test_a_result_dated_in_the_future_does_not_hide_the_newest_one(
    service: RunningService, client: httpx.Client
) -> None:
    future = fd.lab(fd.CALCIUM_MASS, 9.4, "mg/dL", oid="ca-2999", effectiveDateTime="2999-01-01T08:00:00Z")
    response = post(client, service, fd.full_prefetch("p1", [future, critical_calcium()]))
    assert [indicator for indicator, _ in summaries(response)] == ["critical"]
    detail = response.json()["cards"][0]["detail"]
    assert "Observation/ca-2999: dated in the future (2999-01-01) (date-in-future)" in detail


@pytest.mark.parametrize(
    "reference", ["http://other.example/fhir/Patient/p1", "Group/9/Patient/p1", "urn:x/Patient/p1"]
)
def test_a_reference_that_only_ends_in_the_patient_is_another_patients(
    service: RunningService, client: httpx.Client, reference: str
) -> None:
    # The chart's own normal calcium, and a newer critical one whose subject only ends in "Patient/p1".
    labs = [
        fd.lab(fd.CALCIUM_MASS, 9.4, "mg/dL", days_ago=2),
        critical_calcium(subject={"reference": reference}),
    ]
    response = post(client, service, fd.full_prefetch("p1", labs), fhir_server="http://ehr.example/fhir")
    assert summaries(response) == []


def _urn_bundle(patient_id: str, urn: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    bundle = fd.bundle([fd.patient(patient_id), *resources])
    bundle["entry"][0]["fullUrl"] = urn
    return bundle


@pytest.mark.parametrize(
    ("reference", "patient_in_bundle", "cards"),
    [
        ("http://ehr.example/fhir/Patient/p1", None, 1),  # absolute against the request's own fhirServer
        ("urn:uuid:0f3a6c1e-4a43-4f0a-9d5e-2b8d3c6a7e11", "p1", 1),  # resolved by the same Bundle
        ("urn:uuid:0f3a6c1e-4a43-4f0a-9d5e-2b8d3c6a7e11", "p2", 0),  # resolved to another patient
        ("urn:uuid:0f3a6c1e-4a43-4f0a-9d5e-2b8d3c6a7e11", None, 0),  # not resolved at all
    ],
)
def test_absolute_and_bundle_resolved_references_name_the_patient(
    service: RunningService,
    client: httpx.Client,
    reference: str,
    patient_in_bundle: str | None,
    cards: int,
) -> None:
    own = fd.lab(fd.CALCIUM_MASS, 9.4, "mg/dL", days_ago=2)  # the chart's own normal calcium
    calcium = [own, critical_calcium(subject={"reference": reference})]
    labs = _urn_bundle(patient_in_bundle, reference, calcium) if patient_in_bundle else fd.bundle(calcium)
    prefetch = {**fd.full_prefetch("p1", []), "labs": labs}
    response = post(client, service, prefetch, fhir_server="http://ehr.example/fhir")
    assert len(summaries(response)) == cards


# As in the AHRQ CQL Services examples: context.patientId "2-1", every prefetched resource about a UUID.
OTHER = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"


def test_a_prefetch_about_another_patient_without_fhir_server_is_a_412_naming_the_keys(
    service: RunningService, client: httpx.Client
) -> None:
    prefetch = fd.full_prefetch(OTHER, [critical_calcium(pid=OTHER)])
    response = client.post(hook_url(service), json=fd.request_body(pid="2-1", prefetch=prefetch))
    assert response.status_code == 412, response.text
    assert set(error_codes(response)) == {"prefetch.unavailable"}
    issues = response.json()["issue"]
    assert sorted(i["expression"][0] for i in issues) == ["prefetch.labs", "prefetch.patient"]
    assert all("prefetch-wrong-patient" in i["details"]["text"] for i in issues)


def test_a_prefetch_about_another_patient_is_fetched_from_the_fhir_server(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client
) -> None:
    fhir.load([fd.patient("2-1"), fd.lab(fd.CALCIUM_MASS, 14.6, "mg/dL", pid="2-1", oid="ca-real")])
    before = fhir.stats()
    wrong = fd.full_prefetch(OTHER, [fd.lab(fd.CALCIUM_MASS, 9.1, "mg/dL", pid=OTHER)])
    body = fd.request_body(pid="2-1", prefetch=wrong, fhir_server=fhir.base, token=fhir.token)
    response = client.post(hook_url(service), json=body)
    assert [indicator for indicator, _ in summaries(response)] == ["critical"]
    evidence = response.json()["cards"][0]["extension"][PROVENANCE]["evidence"]
    assert "Observation/ca-real" in [row["reference"] for row in evidence]
    assert fhir.requests_since(before) == {"Patient": 1, "Observation": 1}
