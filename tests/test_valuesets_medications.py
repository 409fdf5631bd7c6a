"""Medication and route value sets, and the text fallback in terminology/data/medication_text.json.

The table tests pin down the matching semantics stated in that file's ``about``: lower-case, whitespace
collapsed, a term matches as a whole phrase not touching a word character or a hyphen, and an exclude term
vetoes the whole text for that value set. The tables run against the production matcher
(``terminology.knowledge.TextMatcher``), so there is one implementation of those semantics.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.valueset import ValueSet

from terminology.knowledge import load_knowledge

ROOT = Path(__file__).resolve().parents[1]
VALUESETS = ROOT / "terminology" / "valuesets"
TEXT_FILE = ROOT / "terminology" / "data" / "medication_text.json"

BASE = "http://calcinosis-cds.example.org/fhir"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
V3_ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
VERIFICATION = f"{BASE}/StructureDefinition/code-verification"
PROVENANCE = f"{BASE}/StructureDefinition/code-provenance"

MEDICATION_SETS = (
    "iv-calcium-salts",
    "iv-phosphate-salts",
    "warfarin",
    "vitamin-d-nutritional",
    "vitamin-d-active",
    "calcium-based-phosphate-binders",
    "calcium-supplements",
    "systemic-corticosteroids",
)
ROUTE_SET = "route-intravenous"
ALL_SETS = (*MEDICATION_SETS, ROUTE_SET)

IV_CA = "iv-calcium-salts"
IV_PO4 = "iv-phosphate-salts"
WARFARIN = "warfarin"
VIT_D = "vitamin-d-nutritional"
VIT_D_ACTIVE = "vitamin-d-active"
BINDER = "calcium-based-phosphate-binders"
CA_SUPP = "calcium-supplements"
STEROID = "systemic-corticosteroids"


def _url(value_set_id: str) -> str:
    return f"{BASE}/ValueSet/{value_set_id}"


@cache
def _value_set(value_set_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VALUESETS / f"{value_set_id}.json").read_text(encoding="utf-8"))
    return data


@cache
def _text_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(TEXT_FILE.read_text(encoding="utf-8"))
    return data


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _matches(text: str, value_set_id: str) -> bool:
    return load_knowledge().text[value_set_id].matches(text)


def _medication_sets_matching(text: str) -> frozenset[str]:
    return frozenset(vs for vs in MEDICATION_SETS if _matches(text, vs))


def _concepts(value_set: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (include["system"], concept)
        for include in value_set.get("compose", {}).get("include", [])
        for concept in include["concept"]
    ]


# --- the value set files -------------------------------------------------------------------------------


@pytest.mark.parametrize("value_set_id", ALL_SETS)
def test_file_is_a_valid_r4_value_set_with_conventional_header(value_set_id: str) -> None:
    data = _value_set(value_set_id)
    ValueSet.model_validate(data)
    assert data["id"] == value_set_id
    assert data["url"] == _url(value_set_id)
    assert re.fullmatch(r"\d+\.\d+\.\d+", data["version"]), data["version"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["date"]), data["date"]
    assert data["status"] == "active"
    assert data["experimental"] is False
    assert data["publisher"] == "calcinosis-cds"
    assert data["description"].strip()


@pytest.mark.parametrize("value_set_id", MEDICATION_SETS)
def test_medication_value_sets_use_only_rxnorm(value_set_id: str) -> None:
    data = _value_set(value_set_id)
    systems = {include["system"] for include in data.get("compose", {}).get("include", [])}
    systems |= {c["system"] for c in data["expansion"]["contains"]}
    assert systems <= {RXNORM}


def test_route_value_set_uses_only_snomed_and_v3_route_codes() -> None:
    data = _value_set(ROUTE_SET)
    systems = {include["system"] for include in data["compose"]["include"]}
    systems |= {c["system"] for c in data["expansion"]["contains"]}
    assert systems == {SNOMED, V3_ROUTE}


@pytest.mark.parametrize("value_set_id", ALL_SETS)
def test_every_concept_carries_verification_and_provenance(value_set_id: str) -> None:
    for system, concept in _concepts(_value_set(value_set_id)):
        extensions = {e["url"]: e for e in concept.get("extension", [])}
        where = f"{system}|{concept['code']}"
        assert extensions[VERIFICATION]["valueCode"] in {"verified", "unverified"}, where
        assert extensions[PROVENANCE]["valueString"].strip(), where
        status = extensions[VERIFICATION]["valueCode"]
        assert extensions[PROVENANCE]["valueString"].lower().startswith(status), where


@pytest.mark.parametrize("value_set_id", ALL_SETS)
def test_expansion_repeats_compose_without_duplicates(value_set_id: str) -> None:
    data = _value_set(value_set_id)
    composed = [(system, c["code"], c["display"]) for system, c in _concepts(data)]
    expanded = [(c["system"], c["code"], c["display"]) for c in data["expansion"]["contains"]]
    assert expanded == composed
    assert data["expansion"]["total"] == len(expanded)
    assert len({(system, code) for system, code, _ in expanded}) == len(expanded)


def test_rxnorm_ingredient_codes_are_numeric() -> None:
    for value_set_id in MEDICATION_SETS:
        for _, concept in _concepts(_value_set(value_set_id)):
            assert concept["code"].isdigit(), (value_set_id, concept["code"])


# --- the text fallback file ----------------------------------------------------------------------------


def test_text_file_covers_exactly_the_medication_and_route_sets() -> None:
    data = _text_data()
    assert data["about"].strip()
    assert set(data["valueSets"]) == {_url(v) for v in MEDICATION_SETS}
    assert set(data["routes"]) == {_url(ROUTE_SET)}


def test_every_value_set_url_in_the_text_file_exists_as_a_file_here() -> None:
    urls_on_disk = {
        json.loads(path.read_text(encoding="utf-8"))["url"] for path in sorted(VALUESETS.glob("*.json"))
    }
    data = _text_data()
    assert set(data["valueSets"]) | set(data["routes"]) <= urls_on_disk


def _all_terms() -> list[tuple[str, str, str]]:
    data = _text_data()
    rules = {**data["valueSets"], **data["routes"]}
    return [
        (url, kind, term)
        for url, rule in rules.items()
        for kind in ("include", "exclude")
        for term in rule[kind]
    ]


@pytest.mark.parametrize(("url", "kind", "term"), _all_terms())
def test_terms_are_lower_case_trimmed_and_non_empty(url: str, kind: str, term: str) -> None:
    assert term, (url, kind)
    assert term == _normalise(term), (url, kind, term)


def test_each_rule_has_include_terms_and_no_term_twice() -> None:
    data = _text_data()
    for url, rule in {**data["valueSets"], **data["routes"]}.items():
        assert rule["include"], url
        terms = rule["include"] + rule.get("exclude", [])
        assert len(terms) == len(set(terms)), url


# --- what the terms do: realistic displays ------------------------------------------------------------

MEDICATION_CASES: list[tuple[str, frozenset[str]]] = [
    # intravenous calcium
    ("Calcium Gluconate 100 MG/ML Injectable Solution", frozenset({IV_CA, CA_SUPP})),
    ("calcium gluconate 2 g in sodium chloride 0.9% 100 mL IVPB", frozenset({IV_CA, CA_SUPP})),
    ("CALCIUM CHLORIDE 10% INJ 1 G/10 ML SYRINGE", frozenset({IV_CA})),
    ("calcium  gluconate 1 g IV (double space in free text)", frozenset({IV_CA, CA_SUPP})),
    ("calcium gluconate 2 g in lactated ringer's 100 mL", frozenset({IV_CA, CA_SUPP})),
    # trap: balanced crystalloid and CRRT fluid list calcium chloride
    (
        "Calcium Chloride 0.2 MG/ML / Potassium Chloride 0.3 MG/ML / Sodium Chloride 6 MG/ML / "
        "Sodium Lactate 3.1 MG/ML Injectable Solution",
        frozenset(),
    ),
    ("Lactated Ringers 1000 mL bag", frozenset()),
    ("PrismaSol BGK 4/2.5 replacement solution 5000 mL", frozenset()),
    (
        "Calcium Chloride 0.257 MG/ML / Magnesium Chloride 0.102 MG/ML / Sodium Bicarbonate 3.09 MG/ML / "
        "Sodium Chloride 6.46 MG/ML Hemofiltration Solution",
        frozenset(),
    ),
    # traps: 'calcium' alone
    ("Verapamil Hydrochloride 40 MG", frozenset()),
    ("amlodipine (calcium channel blocker) 5 mg tablet", frozenset()),
    ("atorvastatin calcium 40 MG Oral Tablet", frozenset()),
    ("Leucovorin Calcium 10 MG/ML Injectable Solution", frozenset()),
    # intravenous phosphate
    (
        "potassium phosphate, dibasic 236 MG/ML / potassium phosphate, monobasic 224 MG/ML "
        "Injectable Solution",
        frozenset({IV_PO4}),
    ),
    ("Potassium Phosphates 15 mmol in sodium chloride 0.9% 250 mL", frozenset({IV_PO4})),
    ("SODIUM PHOSPHATES 3 MMOL/ML INJ", frozenset({IV_PO4})),
    ("sodium glycerophosphate 216 mg/mL (Glycophos) injection", frozenset({IV_PO4})),
    # traps: 'phosphate' alone, corticosteroid phosphate salts, radiopharmaceutical
    ("sitagliptin phosphate 100 MG Oral Tablet", frozenset()),
    ("codeine phosphate 30 MG Oral Tablet", frozenset()),
    ("Oseltamivir phosphate 75 MG Oral Capsule", frozenset()),
    ("clindamycin phosphate 10 MG/ML Topical Solution", frozenset()),
    ("dexamethasone sodium phosphate 4 MG/ML Injectable Solution", frozenset({STEROID})),
    ("Dexamethasone / sodium phosphate", frozenset({STEROID})),
    ("betamethasone sodium phosphate 3 MG/ML / betamethasone acetate 3 MG/ML", frozenset({STEROID})),
    ("Sodium Phosphate P-32 solution", frozenset()),
    # oral/rectal sodium phosphate share the ingredient; only the route excludes them
    ("sodium phosphate, dibasic 7 G / sodium phosphate, monobasic 19 G Enema", frozenset({IV_PO4})),
    # warfarin: the Synthea clinical drug, brands, salts
    ("Warfarin Sodium 5 MG Oral Tablet", frozenset({WARFARIN})),
    ("Coumadin 2 mg tablet", frozenset({WARFARIN})),
    ("JANTOVEN 5 MG TABLET", frozenset({WARFARIN})),
    # nutritional vitamin D
    ("Ergocalciferol 1.25 MG Oral Capsule", frozenset({VIT_D})),
    ("cholecalciferol 1000 UNT Oral Tablet", frozenset({VIT_D})),
    ("Vitamin D3 2000 IU capsule", frozenset({VIT_D})),
    ("calcifediol 30 MCG Extended Release Oral Capsule [Rayaldee]", frozenset({VIT_D})),
    ("Drisdol 50,000 unit capsule", frozenset({VIT_D})),
    ("calcium carbonate 1250 MG / cholecalciferol 200 UNT Oral Tablet", frozenset({VIT_D, BINDER, CA_SUPP})),
    # active vitamin D
    ("calcitriol 0.00025 MG Oral Capsule", frozenset({VIT_D_ACTIVE})),
    ("Rocaltrol 0.25 mcg capsule", frozenset({VIT_D_ACTIVE})),
    ("paricalcitol 5 MCG/ML Injectable Solution [Zemplar]", frozenset({VIT_D_ACTIVE})),
    ("doxercalciferol 4 MCG/2 ML injection (Hectorol)", frozenset({VIT_D_ACTIVE})),
    ("alfacalcidol 0.25 microgram capsule", frozenset({VIT_D_ACTIVE})),
    ("paricalcitol (vitamin D analog) 2 mcg capsule", frozenset({VIT_D_ACTIVE})),
    # traps around vitamin D
    ("calcitonin salmon 200 UNT/ACTUAT Metered Dose Nasal Spray", frozenset()),
    ("calcipotriene 0.05 MG/ML Topical Solution", frozenset()),
    # calcium-based binders and supplements
    ("calcium acetate 667 MG Oral Capsule", frozenset({BINDER})),
    ("PhosLo 667 mg gelcap", frozenset({BINDER})),
    ("calcium carbonate 500 MG Chewable Tablet [Tums]", frozenset({BINDER, CA_SUPP})),
    ("calcium citrate 950 MG Oral Tablet", frozenset({CA_SUPP})),
    ("Os-Cal 500 + D tablet", frozenset({CA_SUPP})),
    # traps: non-calcium binders
    ("sevelamer carbonate 800 MG Oral Tablet", frozenset()),
    ("lanthanum carbonate 1000 MG Chewable Tablet", frozenset()),
    ("ferric citrate 1 GM Oral Tablet", frozenset()),
    # corticosteroids (route decides systemic versus local use)
    ("predniSONE 20 MG Oral Tablet", frozenset({STEROID})),
    ("prednisolone 3 MG/ML Oral Solution", frozenset({STEROID})),
    ("Methylprednisolone 125 MG Injection [Solu-Medrol]", frozenset({STEROID})),
    ("Hydrocortisone 20 MG Oral Tablet", frozenset({STEROID})),
    ("Cortisone 25 MG Oral Tablet", frozenset({STEROID})),
    ("Triamcinolone Acetonide 40 MG/ML Injectable Suspension [Kenalog]", frozenset({STEROID})),
    ("budesonide 9 MG 24HR Extended Release Oral Capsule", frozenset({STEROID})),
    ("Celestone Soluspan 6 mg/mL", frozenset({STEROID})),
    ("Medrol 4 mg dose pack", frozenset({STEROID})),
    # traps: other steroids and look-alikes
    ("fludrocortisone acetate 0.1 MG Oral Tablet", frozenset()),
    ("fluticasone propionate 0.05 MG/ACTUAT Metered Dose Nasal Spray", frozenset()),
    ("clobetasol propionate 0.5 MG/G Topical Cream", frozenset()),
    # Synthea sample medications that must not match anything
    ("Digoxin 0.125 MG Oral Tablet", frozenset()),
    ("Sodium Chloride 9 MG/ML Injectable Solution", frozenset()),
    ("heparin sodium, porcine", frozenset()),
]


@pytest.mark.parametrize(("text", "expected"), MEDICATION_CASES, ids=[c[0][:60] for c in MEDICATION_CASES])
def test_medication_text_matches_intended_value_sets(text: str, expected: frozenset[str]) -> None:
    assert _medication_sets_matching(text) == expected


ROUTE_CASES: list[tuple[str, bool]] = [
    ("Intravenous", True),
    ("intravenous route", True),
    ("Intravenous route (qualifier value)", True),
    ("IV", True),
    ("iv push", True),
    ("IV piggyback", True),
    ("IVPB", True),
    ("IVP", True),
    ("IV-push", True),
    ("i.v.", True),
    ("Injection, intravenous, bolus", True),
    ("Infusion, intravenous catheter, continuous", True),
    ("Intravenous peripheral route", True),
    ("give intravenously over 10 minutes", True),
    ("PO/IV", True),
    ("Oral", False),
    ("oral route", False),
    ("Intramuscular route", False),
    ("Subcutaneous", False),
    ("Intravitreal route", False),
    ("Intravesical use", False),
    ("intraventricular route - cardiac", False),
    ("Intravascular route", False),
    ("Intra-arterial route", False),
    ("Topical route", False),
    ("Per rectum", False),
    ("non-IV route", False),
]


@pytest.mark.parametrize(("text", "expected"), ROUTE_CASES, ids=[c[0] for c in ROUTE_CASES])
def test_route_text_matches_intravenous_only(text: str, expected: bool) -> None:
    assert _matches(text, ROUTE_SET) is expected


def test_route_value_set_displays_are_matched_by_the_route_terms() -> None:
    """A route coding with a display but an unknown system still reads as intravenous."""
    for concept in _value_set(ROUTE_SET)["expansion"]["contains"]:
        assert _matches(concept["display"], ROUTE_SET), concept


@pytest.mark.parametrize("value_set_id", MEDICATION_SETS)
def test_ingredient_displays_are_matched_by_their_own_text_rule(value_set_id: str) -> None:
    """Every listed ingredient is also found by the text fallback, so code and text agree."""
    for concept in _value_set(value_set_id)["expansion"]["contains"]:
        assert value_set_id in _medication_sets_matching(concept["display"]), concept


def test_dose_form_terms_are_normalised_and_name_only_medication_sets() -> None:
    parenteral = _text_data()["doseForms"]["parenteral"]
    terms = parenteral["include"] + parenteral["exclude"]
    assert parenteral["about"].strip()
    assert all(term and term == _normalise(term) for term in terms), terms
    assert len(terms) == len(set(terms))
    assert set(parenteral["impliesIntravenousFor"]) <= {_url(v) for v in MEDICATION_SETS}
    assert set(parenteral["impliesIntravenousFor"]).isdisjoint({_url(STEROID), _url(CA_SUPP)})
