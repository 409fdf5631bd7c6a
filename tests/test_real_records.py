"""Records the way EHRs really send them (issue 12), through real HTTP: each test reproduced a misreading.

Values that cannot be true, units that are unusable, eGFR written in mL/min, a coded CKD stage from 1969,
deceased patients: what a card used, what it did not, and why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cards.render import PROVENANCE
from tests import fhir_data as fd
from tests import scenario_data as sd
from tests.servers import FhirTestServer, RunningService
from tests.test_http_api import hook_url

ALBUMIN = "1751-7"
CREATININE = "2160-0"
EGFR_MDRD = "33914-3"


def cards(client: httpx.Client, service: RunningService, labs: list[dict[str, Any]], **patient: Any) -> Any:
    body = fd.request_body(prefetch=fd.full_prefetch("p1", labs, **patient))
    response = client.post(hook_url(service), json=body)
    assert response.status_code == 200, response.text
    return response.json()["cards"]


def test_an_albumin_in_g_per_l_written_as_g_per_dl_no_longer_hides_a_high_calcium(
    service: RunningService, client: httpx.Client
) -> None:
    """28 "g/dL" gave a corrected calcium of -6.4 mg/dL and no card for a measured 12.8."""
    labs = [fd.lab(fd.CALCIUM_MASS, 12.8, "mg/dL", oid="ca"), fd.lab(ALBUMIN, 28, "g/dL", oid="alb")]
    [card] = cards(client, service, labs)
    assert card["summary"].startswith("Moderate hypercalcemia (total Ca 12.8 mg/dL)")
    line = (
        "Observation/alb: 28 g/dL is outside the plausible 0.5 to 7 g/dL; 28 g/L would be plausible: "
        "the unit may be wrong (not rescaled) (value-implausible)"
    )
    assert line in card["extension"][PROVENANCE]["notUsed"]  # whole, for a reviewer
    assert "Observation/alb: 28 g/dL is outside the plausible 0.5 to 7 g/dL" in card["detail"]


def test_a_negative_albumin_no_longer_makes_a_critical_corrected_calcium(
    service: RunningService, client: httpx.Client
) -> None:
    """-50 g/dL gave a critical card for a "corrected Ca 52.7"."""
    labs = [fd.lab(fd.CALCIUM_MASS, 9.1, "mg/dL"), fd.lab(ALBUMIN, -50, "g/dL")]
    assert cards(client, service, labs) == []


def test_unusable_calcium_values_are_listed_on_the_card_they_could_have_changed(
    service: RunningService, client: httpx.Client
) -> None:
    """On dialysis with no usable calcium, the missing-data card said nothing of the calcium on the chart."""
    no_unit = fd.lab(fd.CALCIUM_MASS, 11.9, "", ucum=False, oid="ca-no-unit")
    no_unit["valueQuantity"] = {"value": 11.9}
    milliequivalents = fd.lab(fd.CALCIUM_MASS, 5.9, "meq/L", oid="ca-meq")
    prefetch = fd.full_prefetch("p1", [no_unit, milliequivalents], gender="male")
    prefetch["conditions"] = fd.bundle([sd.dialysis_dependence("z992", "p1")])
    response = client.post(hook_url(service), json=fd.request_body(prefetch=prefetch))
    [card] = response.json()["cards"]
    assert card["summary"].startswith("No calcium or phosphate")
    assert "Observation/ca-no-unit: the quantity has no unit (unit-missing)" in card["detail"]
    assert "Observation/ca-meq: unit 'meq/L' is not a known unit (unit-unknown)" in card["detail"]


def test_an_egfr_written_ml_per_min_is_used_instead_of_computing_one(
    service: RunningService, client: httpx.Client
) -> None:
    """Synthea writes eGFR in mL/min: it was rejected and CKD G5 was staged from creatinine instead."""
    labs = [
        *(fd.lab(CREATININE, 4.0, "mg/dL", days_ago=d) for d in (1, 120)),
        *(fd.lab(EGFR_MDRD, 67, "mL/min", days_ago=d) for d in (1, 120)),
    ]
    assert cards(client, service, labs) == []  # was: "CKD stage 5 without calcium or phosphate"


@pytest.mark.parametrize(
    ("deceased", "cards_expected"),
    [
        ({"deceasedBoolean": True}, 0),
        ({"deceasedDateTime": "2011-06-01"}, 0),
        ({"deceasedBoolean": False}, 1),
    ],
)
def test_a_deceased_patient_gets_no_risk_cards(
    service: RunningService, client: httpx.Client, deceased: dict[str, Any], cards_expected: int
) -> None:
    prefetch = fd.full_prefetch("p1", [fd.lab(fd.CALCIUM_MASS, 14.8, "mg/dL")])
    prefetch["patient"] |= deceased
    response = client.post(hook_url(service), json=fd.request_body(prefetch=prefetch))
    assert len(response.json()["cards"]) == cards_expected


def _conditions(fhir: FhirTestServer, pid: str, others: int) -> None:
    """``others`` unrelated diagnoses, then a CREST diagnosed 20 days ago: it sorts onto a later page."""
    hypertension = [
        sd.condition(f"htn-{i}", pid, sd.ICD10, "I10", "Essential (primary) hypertension")
        for i in range(others)
    ]
    onset = (datetime.now(UTC) - timedelta(days=20)).date().isoformat()
    crest = sd.condition("crest", pid, sd.ICD10, "M34.1", "CR(E)ST syndrome", onset=onset)
    fhir.load([fd.patient(pid), *hypertension, crest])


def _first_page(fhir: FhirTestServer, query: str) -> dict[str, Any]:
    """A search as the CDS Hooks sandbox sends it: the server's first page (20), total and next link."""
    page: dict[str, Any] = fhir.admin.get(f"/fhir/{query}").json()
    return page


def test_a_searchset_sent_as_its_first_page_is_completed_from_the_fhir_server(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client
) -> None:
    """The sandbox sent 20 of 26 conditions; CREST was on page 2 and no card came."""
    _conditions(fhir, "p1", 25)
    page = _first_page(fhir, "Condition?patient=p1")
    assert (len(page["entry"]), page["total"]) == (20, 26)
    assert all(e["resource"]["id"] != "crest" for e in page["entry"])
    prefetch = {**fd.full_prefetch("p1", [fd.lab(fd.CALCIUM_MASS, 9.4, "mg/dL")]), "conditions": page}
    body = fd.request_body(prefetch=prefetch, fhir_server=fhir.base, token=fhir.token)
    before = fhir.stats()
    response = client.post(hook_url(service), json=body)
    assert [c["source"]["topic"]["code"] for c in response.json()["cards"]] == ["dystrophic-calcinosis-ctd"]
    assert fhir.requests_since(before) == {"Condition": 1}  # the next link, nothing else


def test_a_searchset_with_a_total_above_its_entries_and_no_link_is_fetched_again(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client
) -> None:
    _conditions(fhir, "p1", 25)
    page = _first_page(fhir, "Condition?patient=p1")
    page.pop("link")
    prefetch = {**fd.full_prefetch("p1", []), "conditions": page}
    body = fd.request_body(prefetch=prefetch, fhir_server=fhir.base, token=fhir.token)
    response = client.post(hook_url(service), json=body)
    assert "dystrophic-calcinosis-ctd" in [c["source"]["topic"]["code"] for c in response.json()["cards"]]


def test_a_partial_searchset_without_a_fhir_server_is_a_412_for_that_key(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client
) -> None:
    _conditions(fhir, "p1", 25)
    prefetch = {**fd.full_prefetch("p1", []), "conditions": _first_page(fhir, "Condition?patient=p1")}
    response = client.post(hook_url(service), json=fd.request_body(prefetch=prefetch))
    assert response.status_code == 412
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["prefetch.conditions"]
    assert "prefetch-incomplete" in issue["details"]["text"]
