"""Every demo patient opened in the official CDS Hooks sandbox: the cards it draws are the ones
``service/demo/catalog.json`` documents (none, "All clear!", for the healthy control), from calls that
carried the sandbox's own JWT, verified by the service."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from service.demo import DemoPatient, bundle, demo_patients
from tests.servers import FhirTestServer
from tests_sandbox.conftest import ServiceUnderTest
from tests_sandbox.harness import ALL_CLEAR, SANDBOX_ISSUER, Sandbox, rendered_cards, rule_by_source_label

RULES = rule_by_source_label()
CATALOG = {patient.id: patient for patient in demo_patients()}


def test_the_service_under_test_requires_a_token(sandbox: Sandbox) -> None:
    response = httpx.post(sandbox.hook_url, json={}, timeout=30)
    assert response.status_code == 401


@pytest.mark.parametrize("patient", demo_patients(), ids=lambda p: p.id)
def test_the_sandbox_draws_the_catalogued_cards(
    sandbox: Sandbox, service: ServiceUnderTest, browser: Any, patient: DemoPatient
) -> None:
    with sandbox.visit(browser, patient.id) as visit:
        drawn = rendered_cards(visit.page, RULES)
        assert [(card.rule, card.indicator) for card in drawn] == list(patient.expected_cards)
        assert [card.summary for card in drawn] == [card["summary"] for card in visit.answer["cards"]]
        if not patient.expected_cards:
            assert visit.page.get_by_text(ALL_CLEAR).is_visible()
    log = service.log_text().splitlines()
    assert any(f"token verified iss={SANDBOX_ISSUER} kid=" in line for line in log)
    assert [line for line in log if "token rejected" in line and SANDBOX_ISSUER in line] == []


PAGED = "sandbox-crest-paged"
DEFAULT_PAGE = 20  # the test FHIR server's page size without _count, which the sandbox sends


def earlier_infection(number: int) -> dict[str, Any]:
    """A resolved upper respiratory infection (SNOMED CT 54150009): nothing any rule reads."""
    return {
        "resourceType": "Condition",
        "id": f"{PAGED}-uri-{number}",
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "resolved"}
            ]
        },
        "code": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "54150009",
                    "display": "Upper respiratory infection",
                }
            ],
            "text": "Upper respiratory infection",
        },
        "subject": {"reference": f"Patient/{PAGED}"},
        "onsetDateTime": f"{2000 + number}-01-15",
    }


def test_a_crest_diagnosis_on_the_second_page_of_the_prefetch(
    sandbox: Sandbox, fhir: FhirTestServer, browser: Any
) -> None:
    """The sandbox sends only the first page of each search (with ``total`` and ``next``): the service must
    notice the partial prefetch and read the rest from ``fhirServer``, where the CREST diagnosis is."""
    crest = json.loads(json.dumps(bundle("demo-crest", datetime.now(UTC))).replace("demo-crest", PAGED))
    patient, *records = [entry["resource"] for entry in crest["entry"]]
    fhir.load([patient, *(earlier_infection(n) for n in range(DEFAULT_PAGE + 5))])
    fhir.load(records)  # after the infections: past the first page
    with sandbox.visit(browser, PAGED) as visit:
        conditions = visit.request["prefetch"]["conditions"]
        first_page = [entry["resource"]["id"] for entry in conditions["entry"]]
        assert (conditions["total"], len(first_page)) == (DEFAULT_PAGE + 6, DEFAULT_PAGE)
        assert f"{PAGED}-m341" not in first_page
        assert any(link["relation"] == "next" for link in conditions["link"])
        drawn = rendered_cards(visit.page, RULES)
    assert [(card.rule, card.indicator) for card in drawn] == list(CATALOG["demo-crest"].expected_cards)
