"""Every demo patient opened in the official CDS Hooks sandbox, in a 1400 x 1000 window: the cards it draws
are the ones ``service/demo/catalog.json`` documents (none, "All clear!", for the healthy control), from
calls that carried the sandbox's own JWT, verified by the service, and none is taller than the window."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from service.demo import DemoPatient, bundle, demo_patients
from tests.servers import FhirTestServer
from tests_sandbox.conftest import ServiceUnderTest
from tests_sandbox.harness import (
    ALL_CLEAR,
    CARD,
    SANDBOX_ISSUER,
    RenderedCard,
    Sandbox,
    rendered_cards,
    rule_by_source_label,
)

RULES = rule_by_source_label()
CATALOG = {patient.id: patient for patient in demo_patients()}


def test_the_service_under_test_requires_a_token(sandbox: Sandbox) -> None:
    response = httpx.post(sandbox.hook_url, json={}, timeout=30)
    assert response.status_code == 401


WINDOW = {"width": 1400, "height": 1000}  # a common desktop EHR window (issue 13)


@dataclass(frozen=True)
class Drawing:
    """One patient view as the sandbox drew it in the window: our answer, the cards top to bottom, their
    heights in CSS pixels, and whether "All clear!" showed."""

    answer: dict[str, Any]
    cards: list[RenderedCard]
    heights: list[float]
    all_clear: bool


@pytest.fixture(scope="module")
def drawing(sandbox: Sandbox, browser: Any) -> Callable[[str], Drawing]:
    """Each patient's view, opened the first time a test asks for it and kept: loading the sandbox is what
    takes the time, and the tests of this module look at the same views."""
    seen: dict[str, Drawing] = {}

    def open_once(patient_id: str) -> Drawing:
        if patient_id not in seen:
            with sandbox.visit(browser, patient_id, viewport=WINDOW) as visit:
                assert visit.page.viewport_size == WINDOW
                seen[patient_id] = Drawing(
                    visit.answer,
                    rendered_cards(visit.page, RULES),
                    [card.bounding_box()["height"] for card in visit.page.locator(CARD).all()],
                    visit.page.get_by_text(ALL_CLEAR).is_visible(),
                )
        return seen[patient_id]

    return open_once


@pytest.mark.parametrize("patient", demo_patients(), ids=lambda p: p.id)
def test_the_sandbox_draws_the_catalogued_cards(
    service: ServiceUnderTest, drawing: Callable[[str], Drawing], patient: DemoPatient
) -> None:
    drawn = drawing(patient.id)
    assert [(card.rule, card.indicator) for card in drawn.cards] == list(patient.expected_cards)
    assert [card.summary for card in drawn.cards] == [card["summary"] for card in drawn.answer["cards"]]
    assert drawn.all_clear == (not patient.expected_cards)
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


@pytest.mark.parametrize("patient", [p for p in demo_patients() if p.expected_cards], ids=lambda p: p.id)
def test_no_card_is_taller_than_the_window(drawing: Callable[[str], Drawing], patient: DemoPatient) -> None:
    """A card must fit in a 1400 x 1000 window as the sandbox opens (its developer panel beside the cards):
    a clinician should not have to scroll through one card to reach its suggestions. Run with -s to see
    the tallest card of each patient."""
    heights = drawing(patient.id).heights
    assert len(heights) == len(patient.expected_cards)
    print(
        f"\n{patient.id}: tallest card {max(heights):.0f} px of {WINDOW['height']} px ({len(heights)} cards)"
    )
    assert max(heights) <= WINDOW["height"], f"{patient.id}: cards {heights} px high"
