"""Condition value sets: ICD-10-CM codes checked against the CMS code files, no wrong dialysis code.

Every file under ``terminology/valuesets/`` whose compose includes ICD-10-CM is read directly (not through the
loaded knowledge): each ICD-10-CM code must exist in the CMS code files shipped with ``simple-icd-10-cm``, its
``icd10cm-billable`` claim must equal the package's ``is_leaf`` and its display must equal the package's
description. A wrong or retired code, or a header code claimed billable, would reach a clinician as a wrong
diagnosis match. SNOMED CT 105501005 (a generic dependence-on-device finding) is often mistaken for
105502003 "Dependence on renal dialysis"; it must appear in no value set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import simple_icd_10_cm as cm  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "terminology" / "valuesets"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
BILLABLE_EXT = "http://calcinosis-cds.example.org/fhir/StructureDefinition/icd10cm-billable"
NOT_RENAL_DIALYSIS = "105501005"


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


ALL: dict[str, dict[str, Any]] = {p.stem: _load(p) for p in sorted(FOLDER.glob("*.json"))}


def _includes(vs: dict[str, Any]) -> list[dict[str, Any]]:
    includes: list[dict[str, Any]] = vs.get("compose", {}).get("include", [])
    return includes


def _contains(vs: dict[str, Any]) -> list[dict[str, Any]]:
    contains: list[dict[str, Any]] = vs.get("expansion", {}).get("contains", [])
    return contains


WITH_ICD = sorted(name for name, vs in ALL.items() if any(i["system"] == ICD10CM for i in _includes(vs)))


def _icd_concepts(vs: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for i in _includes(vs) if i["system"] == ICD10CM for c in i.get("concept", [])]


def test_condition_value_sets_with_icd10cm_exist() -> None:
    assert "diabetes-mellitus" in WITH_ICD
    assert "ckd-stage-3" in WITH_ICD


@pytest.mark.parametrize("name", WITH_ICD)
def test_icd10cm_codes_are_valid(name: str) -> None:
    invalid = [c["code"] for c in _icd_concepts(ALL[name]) if not cm.is_valid_item(c["code"])]
    assert invalid == []


@pytest.mark.parametrize("name", WITH_ICD)
def test_icd10cm_billable_claim_matches_code_files(name: str) -> None:
    for concept in _icd_concepts(ALL[name]):
        claims = [e["valueBoolean"] for e in concept.get("extension", []) if e["url"] == BILLABLE_EXT]
        assert len(claims) == 1, concept["code"]
        assert claims[0] is cm.is_leaf(concept["code"]), concept["code"]


@pytest.mark.parametrize("name", WITH_ICD)
def test_icd10cm_display_is_the_official_description(name: str) -> None:
    vs = ALL[name]
    for concept in _icd_concepts(vs):
        assert concept["display"] == cm.get_description(concept["code"]), concept["code"]
    for entry in _contains(vs):
        if entry["system"] == ICD10CM:
            assert entry["display"] == cm.get_description(entry["code"]), entry["code"]


def test_no_value_set_contains_105501005() -> None:
    found = []
    for name, vs in ALL.items():
        composed = [c for i in _includes(vs) for c in i.get("concept", [])]
        if any(entry["code"] == NOT_RENAL_DIALYSIS for entry in [*_contains(vs), *composed]):
            found.append(name)
    assert found == []


def test_renal_dialysis_dependence_is_105502003() -> None:
    codes = {(c["system"], c["code"]) for c in _contains(ALL["dialysis-status"])}
    assert (SNOMED, "105502003") in codes
