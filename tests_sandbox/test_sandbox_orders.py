"""Prescribing in the official CDS Hooks sandbox for the demo dialysis patient (issue 15): its Rx Sign tab
(order-sign, sent when "Sign Order" is pressed) and Rx View tab (order-select, sent when a drug is picked)
build a draft MedicationRequest ``request-123`` from the RxNorm drug chosen in its picker. Warfarin draws
our warning with the offer to remove the draft; a statin draws nothing from us."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests_sandbox.harness import (
    ALL_CLEAR,
    CARD,
    RX_SIGN,
    RX_VIEW,
    Sandbox,
    Screen,
    Visit,
    rendered_cards,
    rule_by_source_label,
)

PATIENT = "demo-calciphylaxis"  # on haemodialysis, with diabetes, obesity, low albumin, high phosphate
WARFARIN = "Warfarin Sodium 5 MG Oral Tablet"  # an RxNorm clinical drug (SCD) the picker offers
ATORVASTATIN = "atorvastatin 20 MG Oral Tablet"
WARNING = re.compile(r"Warfarin in kidney failure with (\d+) calciphylaxis risk factors?: reconsider")
REMOVE = "Remove the draft order"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
RULES = rule_by_source_label()


def the_draft(visit: Visit) -> str:
    """What the sandbox sent about the order (its context: the draft, and the selections on Rx View), for
    failure messages: which RxNorm code and display its picker put in the draft."""
    return json.dumps(visit.request["context"], indent=1)


def drafted(visit: Visit, display: str) -> dict[str, Any]:
    """The one draft the sandbox sent, coded as the RxNorm drug picked."""
    (entry,) = visit.request["context"]["draftOrders"]["entry"]
    draft: dict[str, Any] = entry["resource"]
    coding = draft["medicationCodeableConcept"]["coding"]
    assert [(c["system"], c["display"]) for c in coding] == [(RXNORM, display)], the_draft(visit)
    return draft


@pytest.mark.parametrize("screen", [RX_SIGN, RX_VIEW], ids=lambda s: s.screen)
def test_warfarin_for_the_dialysis_patient_draws_the_warning(
    sandbox: Sandbox, browser: Any, screen: Screen
) -> None:
    with sandbox.order(browser, PATIENT, screen, "warfarin", WARFARIN) as visit:
        draft = drafted(visit, WARFARIN)
        assert (draft["resourceType"], draft["id"], draft["status"]) == (
            "MedicationRequest",
            "request-123",
            "draft",
        )
        assert draft["subject"] == {"reference": f"Patient/{PATIENT}"}
        assert visit.request["hook"] == screen.hook
        if screen == RX_VIEW:
            assert visit.request["context"]["selections"] == ["MedicationRequest/request-123"]
        assert len(visit.answer["cards"]) == 1, (
            f"no warfarin card for the draft the sandbox sent:\n{the_draft(visit)}"
        )
        (card,) = visit.answer["cards"]
        (drawn,) = rendered_cards(visit.page, RULES)
        suggestion = visit.page.locator(CARD).get_by_role("button", name=f"{REMOVE}: {WARFARIN}")
        assert suggestion.is_visible()
    found = WARNING.fullmatch(drawn.summary)
    assert found is not None, drawn.summary
    assert int(found[1]) >= 1
    assert (drawn.rule, drawn.indicator, drawn.summary) == (
        "order-warfarin-calciphylaxis",
        "warning",
        card["summary"],
    )
    (offer,) = card["suggestions"]
    assert offer["label"].startswith(REMOVE)
    assert [(a["type"], a["resourceId"]) for a in offer["actions"]] == [
        ("delete", "MedicationRequest/request-123")
    ]


def test_a_statin_for_the_dialysis_patient_draws_nothing_from_us(sandbox: Sandbox, browser: Any) -> None:
    with sandbox.order(browser, PATIENT, RX_SIGN, "atorvastatin", ATORVASTATIN) as visit:
        drafted(visit, ATORVASTATIN)
        assert visit.answer["cards"] == [], the_draft(visit)
        assert visit.page.locator(CARD).count() == 0
        assert visit.page.get_by_text(ALL_CLEAR).is_visible()
