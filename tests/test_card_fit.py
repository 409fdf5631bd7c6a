"""Cards that fit an EHR's narrow panel (issue 13: no card taller than a 1400 x 1000 window in the official
sandbox, whose card panel is 624 px wide; measured in ``tests_sandbox/test_sandbox_cards.py``). These are the
choices that keep the demo dialysis patient's card under that height, each checked where it is made."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from cards.catalog import calcinosis_service
from cards.data_files import citations
from cards.given import Given
from cards.render import PROVENANCE
from service.demo import bundle, prefetch
from terminology.knowledge import load_knowledge
from terminology.presentation import clinical_display
from terminology.snapshot_builder import build_snapshot

K = load_knowledge()
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PATIENT = "demo-calciphylaxis"  # on dialysis (a coded diagnosis and a procedure), high phosphate, Ca x P 70


def reraise(rule_id: str, exc: Exception) -> None:
    raise AssertionError(f"rule {rule_id} failed") from exc


@pytest.fixture(scope="module")
def card() -> dict[str, Any]:
    """The demo dialysis patient's one card: calciphylaxis risk, with the metastatic finding folded in."""
    snapshot = build_snapshot(PATIENT, list(prefetch(bundle(PATIENT, NOW)).values()), K, NOW)
    ids = (f"id-{i}" for i in itertools.count())
    (advised,) = calcinosis_service(K).advise(Given(snapshot), NOW, lambda: next(ids), reraise)
    wire: dict[str, Any] = advised.card.to_wire()
    assert wire["source"]["topic"]["code"] == "calciphylaxis-risk"
    return wire


def table_rows(card: dict[str, Any]) -> list[list[str]]:
    lines = [line for line in card["detail"].splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def test_dialysis_is_one_row_without_codes_or_semantic_tags(card: dict[str, Any]) -> None:
    """Two records show dialysis (Z99.2 and a haemodialysis procedure): one row, the newest, written as a
    clinician reads it; both references and the code stay in the provenance."""
    dialysis = [row for row in table_rows(card) if row[0] == "On dialysis"]
    assert [row[1] for row in dialysis] == ["Hemodialysis"]
    assert "Z99.2" not in card["detail"]
    assert "302497006" not in card["detail"]
    (provenance,) = [e for e in card["extension"][PROVENANCE]["evidence"] if e["test"] == "On dialysis"]
    assert provenance["reference"].split(", ") == ["Condition/demo-cx-z992", "Procedure/demo-cx-hd"]
    assert provenance["code"] == "302497006"


def test_a_folded_finding_is_cited_in_the_provenance_not_as_links(card: dict[str, Any]) -> None:
    refs = citations()
    assert any(line.startswith("Also: P 7.1 mg/dL, Ca×P 70") for line in card["detail"].split("\n\n"))
    links = [link["label"] for link in card["links"]]
    assert links == [refs[key].label for key in ("nigwekar-2018", "who-bmi", "mayo-phosphorus")]
    references = card["extension"][PROVENANCE]["references"]
    assert refs["kdoqi-2003-bone"].text in references  # the Ca x P limit of the folded finding
    assert len(references) == len(set(references)) > len(links)


def test_dates_and_short_notes_are_not_broken_over_two_lines(card: dict[str, Any]) -> None:
    rows = {row[0]: row for row in table_rows(card)}
    assert rows["Phosphate"][2] == "2026\u201111\u201117"
    assert rows["Corrected calcium"][3] == "Payne\u00a01973"
    assert rows["Warfarin Sodium 5 MG Oral Tablet"][3] == "not\u00a0IV"


@pytest.mark.parametrize(
    ("display", "shown"),
    [
        ("Hemodialysis (procedure)", "Hemodialysis"),
        ("Calcinosis cutis (disorder)", "Calcinosis cutis"),
        ("Dependence on renal dialysis (finding)", "Dependence on renal dialysis"),
        ("Peritoneal dialysis (regime/therapy)", "Peritoneal dialysis"),
        ("Dependence on renal dialysis", "Dependence on renal dialysis"),
        ("Calcium (as gluconate) (substance)", "Calcium (as gluconate) (substance)"),  # not a clinical tag
        ("Systemic sclerosis (CREST)", "Systemic sclerosis (CREST)"),  # a parenthesis that is not a tag
        ("", ""),
    ],
)
def test_clinical_display_drops_only_a_trailing_semantic_tag(display: str, shown: str) -> None:
    assert clinical_display(display) == shown
