"""Rendering: every card passes the CDS Hooks structural check; suggestions are valid R4 ServiceRequests."""

from __future__ import annotations

import itertools
from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

from cards.catalog import calcinosis_service
from cards.given import Given
from service.api.sendable import card_problems
from terminology.knowledge import load_knowledge
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd

K = load_knowledge()
SERVICE = calcinosis_service(K)


def reraise(rule_id: str, exc: Exception) -> None:
    """A rule failure fails the test (the service logs and counts it instead)."""
    raise AssertionError(f"rule {rule_id} failed") from exc


def advise(*resources: dict[str, Any]) -> list[dict[str, Any]]:
    ids = (f"id-{i}" for i in itertools.count())
    snapshot = build_snapshot("p1", [fd.patient(), fd.bundle(list(resources))], K, fd.NOW)
    advised = SERVICE.advise(Given(snapshot), fd.NOW, lambda: next(ids), reraise)
    return [a.card.to_wire() for a in advised]


def test_cards_pass_the_structural_check_and_suggest_valid_service_requests() -> None:
    cards = advise(fd.lab(fd.CALCIUM_MASS, 14.6, "mg/dL"), fd.lab(fd.PHOSPHATE_MASS, 6.0, "mg/dL"))
    assert cards
    for card in cards:
        assert card_problems(card) == []
        assert card["selectionBehavior"] == "any"
        for suggestion in card["suggestions"]:
            resource = suggestion["actions"][0]["resource"]
            ServiceRequest.model_validate(resource)
            assert (resource["status"], resource["intent"], resource["subject"]) == (
                "draft",
                "proposal",
                {"reference": "Patient/p1"},
            )


def test_suggestions_are_only_for_missing_tests() -> None:
    card = advise(fd.lab(fd.CALCIUM_MASS, 12.6, "mg/dL"), fd.lab("2731-8", 30, "pg/mL"))[0]
    labels = [s["label"] for s in card["suggestions"]]
    assert not any("Parathyrin" in label for label in labels)
    assert any("Albumin" in label for label in labels)


def test_uncoded_order_is_sent_as_text_only() -> None:
    card = advise(fd.lab(fd.CALCIUM_MASS, 12.6, "mg/dL"))[0]
    vitamin_d = [s for s in card["suggestions"] if "25-hydroxyvitamin D" in s["label"]]
    code = vitamin_d[0]["actions"][0]["resource"]["code"]
    assert code == {"text": "25-hydroxyvitamin D, total (D2 + D3), serum"}


def test_cards_are_ordered_most_severe_first_and_cite_their_rule() -> None:
    dialysis = {
        "resourceType": "Condition",
        "id": "d1",
        "code": {
            "coding": [
                {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "Z99.2", "display": "Dialysis"}
            ]
        },
        "subject": {"reference": "Patient/p1"},
        "clinicalStatus": {"coding": [{"code": "active"}]},
    }
    cards = advise(dialysis, fd.lab(fd.CALCIUM_MASS, 14.6, "mg/dL"), fd.lab("1751-7", 4.0, "g/dL"))
    indicators = [c["indicator"] for c in cards]
    assert indicators == sorted(indicators, key=("info", "warning", "critical").index, reverse=True)
    # The calcium drives the critical card; calciphylaxis (female, high calcium) is folded into it.
    assert [c["source"]["topic"]["code"] for c in cards] == ["metastatic-calcification"]
    assert "Also: Calciphylaxis risk: 2 risk factors on dialysis" in cards[0]["detail"]
