"""Lab value sets: one analyte per LOINC code, valid LOINC check digits, displays agreeing with the property.

The lab value sets are the R4 ValueSet files listed in ``LAB_VALUE_SETS`` (see
``terminology/valuesets/CONVENTIONS.md``). A LOINC code names one analyte, one property (mass, moles, ...) and
one specimen; a code in the wrong set, a mistyped code or a molar code labelled as mass would reach a
clinician as a unit mix-up, so these checks read the files themselves rather than the loaded knowledge.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from importlib import resources
from typing import Any

import pytest

LOINC = "http://loinc.org"
PROVENANCE_EXT = "http://calcinosis-cds.example.org/fhir/StructureDefinition/code-provenance"

LAB_VALUE_SETS = (
    "calcium-total",
    "calcium-ionized",
    "calcium-albumin-corrected",
    "albumin",
    "phosphate",
    "creatinine",
    "egfr",
    "pth-intact",
    "vitamin-d-25-hydroxy",
    "vitamin-d-1-25-dihydroxy",
    "alkaline-phosphatase",
    "bmi",
)

LOINC_SHAPE = re.compile(r"^(\d{1,7})-(\d)$")
# The LOINC property a display states in brackets, e.g. "Calcium [Moles/volume] in Serum or Plasma".
DISPLAY_PROPERTY = {
    "Mass/volume": "MCnc",
    "Moles/volume": "SCnc",
    "Enzymatic activity/volume": "CCnc",
    "Volume Rate/Area": "ArVRat",
    "Ratio": "Ratio",
}
BRACKET = re.compile(r"\[([^\]]+)\]")
# Each concept's provenance states its property as "Property <LOINC property abbreviation>".
PROVENANCE_PROPERTY = re.compile(r"\bProperty (\w+)")


def _all_value_sets() -> dict[str, dict[str, Any]]:
    folder = resources.files("terminology").joinpath("valuesets")
    found: dict[str, dict[str, Any]] = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            found[entry.name.removesuffix(".json")] = json.loads(entry.read_text(encoding="utf-8"))
    return found


ALL = _all_value_sets()


def _loinc_concepts(value_set: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        concept
        for include in value_set.get("compose", {}).get("include", [])
        if include["system"] == LOINC
        for concept in include.get("concept", [])
    ]


def _provenance(concept: dict[str, Any]) -> str:
    for extension in concept.get("extension", []):
        if extension["url"] == PROVENANCE_EXT:
            return str(extension["valueString"])
    return ""


def _shown_properties(display: str) -> list[str]:
    return [DISPLAY_PROPERTY[b] for b in BRACKET.findall(display) if b in DISPLAY_PROPERTY]


def loinc_check_digit(number: str) -> int:
    """The LOINC Mod 10 check digit of the number before the hyphen (LOINC Users' Guide, check digits).

    From the right, the digits in odd positions form a number that is doubled; the digits in even positions
    are written in front of that product; the check digit brings the sum of all those digits up to a
    multiple of 10.
    """
    if not number.isdigit():
        raise ValueError(f"not a LOINC code number: {number!r}")
    from_right = number[::-1]
    odd = from_right[0::2][::-1]
    even = from_right[1::2][::-1]
    digits = even + str(int(odd) * 2)
    return (10 - sum(int(d) for d in digits) % 10) % 10


def is_valid_loinc(code: str) -> bool:
    match = LOINC_SHAPE.match(code)
    if match is None:
        return False
    return loinc_check_digit(match.group(1)) == int(match.group(2))


@pytest.mark.parametrize(
    ("number", "check"),
    [
        ("12345", 5),  # the worked example of the LOINC Users' Guide
        ("2160", 0),  # creatinine, mass, serum/plasma
        ("17861", 6),  # calcium, mass, serum/plasma
        ("2345", 7),  # glucose, mass, serum/plasma
        ("4548", 4),  # hemoglobin A1c
        ("39156", 5),  # body mass index
        ("718", 7),  # hemoglobin, blood
    ],
)
def test_check_digit_algorithm_on_known_codes(number: str, check: int) -> None:
    assert loinc_check_digit(number) == check


@pytest.mark.parametrize("code", ["2160-1", "17816-6", "1786-16", "2000-9", "17861", "5564009", "A160-0"])
def test_check_digit_rejects_typos(code: str) -> None:
    assert not is_valid_loinc(code)


def test_every_lab_value_set_exists() -> None:
    assert [vs_id for vs_id in LAB_VALUE_SETS if vs_id not in ALL] == []


def test_no_loinc_code_is_in_two_lab_value_sets() -> None:
    sets_of: defaultdict[str, list[str]] = defaultdict(list)
    for vs_id in LAB_VALUE_SETS:
        for code in {concept["code"] for concept in _loinc_concepts(ALL[vs_id])}:
            sets_of[code].append(vs_id)
    assert {code: ids for code, ids in sets_of.items() if len(ids) > 1} == {}


def test_every_loinc_code_has_a_valid_check_digit() -> None:
    bad = [
        f"{vs_id}: {concept['code']}"
        for vs_id, value_set in sorted(ALL.items())
        for concept in _loinc_concepts(value_set)
        if not is_valid_loinc(concept["code"])
    ]
    bad += [
        f"{vs_id} expansion: {entry['code']}"
        for vs_id, value_set in sorted(ALL.items())
        for entry in value_set.get("expansion", {}).get("contains", [])
        if entry["system"] == LOINC and not is_valid_loinc(entry["code"])
    ]
    assert bad == []


def test_every_lab_concept_states_its_property() -> None:
    missing = [
        f"{vs_id}: {concept['code']}"
        for vs_id in LAB_VALUE_SETS
        for concept in _loinc_concepts(ALL[vs_id])
        if not PROVENANCE_PROPERTY.search(_provenance(concept))
    ]
    assert missing == []


def test_display_property_agrees_with_stated_property() -> None:
    # A mass code must not be displayed as Moles, nor a molar code as Mass, wherever the display names one.
    disagreements = []
    for vs_id in LAB_VALUE_SETS:
        for concept in _loinc_concepts(ALL[vs_id]):
            stated = PROVENANCE_PROPERTY.search(_provenance(concept))
            shown = _shown_properties(concept["display"])
            if stated and shown and shown != [stated.group(1)]:
                disagreements.append(f"{vs_id}: {concept['code']} shows {shown}, states {stated.group(1)}")
    assert disagreements == []


def test_expansion_display_matches_compose_display() -> None:
    differing = []
    for vs_id in LAB_VALUE_SETS:
        composed = {concept["code"]: concept["display"] for concept in _loinc_concepts(ALL[vs_id])}
        for entry in ALL[vs_id]["expansion"]["contains"]:
            if composed.get(entry["code"]) != entry["display"]:
                differing.append(f"{vs_id}: {entry['code']}")
    assert differing == []


def test_the_property_checks_can_fail() -> None:
    wrong = {"code": "17861-6", "display": "Calcium [Moles/volume] in Serum or Plasma"}
    shown = _shown_properties(wrong["display"])
    assert shown == ["SCnc"]
    assert shown != ["MCnc"]
