"""Every shipped value set is a valid R4 ValueSet with provenance on every code, referenced and unique."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.valueset import ValueSet

from terminology.knowledge import load_knowledge
from terminology.value_set_files import PROVENANCE_EXT, VERIFICATION_EXT, VS_BASE

FOLDER = Path(__file__).resolve().parents[1] / "terminology" / "valuesets"
FILES = sorted(FOLDER.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_is_a_valid_r4_value_set(path: Path) -> None:
    vs = load(path)
    ValueSet.model_validate(vs)
    assert vs["id"] == path.stem
    assert vs["url"] == VS_BASE + path.stem
    for field in ("version", "date", "status", "name", "title", "description"):
        assert vs.get(field), field


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_code_has_provenance_and_verification(path: Path) -> None:
    vs = load(path)
    for include in vs["compose"]["include"]:
        for concept in include["concept"]:
            exts = {e["url"]: e for e in concept.get("extension", [])}
            assert exts.get(VERIFICATION_EXT, {}).get("valueCode") in {"verified", "unverified"}, concept[
                "code"
            ]
            assert exts.get(PROVENANCE_EXT, {}).get("valueString", "").strip(), concept["code"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_expansion_matches_compose_without_duplicates(path: Path) -> None:
    vs = load(path)
    composed = [(i["system"], c["code"]) for i in vs["compose"]["include"] for c in i["concept"]]
    expanded = [(c["system"], c["code"]) for c in vs["expansion"]["contains"]]
    assert len(composed) == len(set(composed))
    assert composed == expanded
    assert vs["expansion"]["total"] == len(expanded)


def test_every_file_is_used_and_every_reference_exists() -> None:
    knowledge = load_knowledge()
    concepts = json.loads((FOLDER.parent / "data" / "concepts.json").read_text(encoding="utf-8"))
    referenced = {a.value_set for a in knowledge.analytes.values()}
    referenced |= {VS_BASE + vs_id for ids in concepts["families"].values() for vs_id in ids}
    shipped = {load(p)["url"] for p in FILES}
    assert referenced <= shipped
    assert shipped - referenced == set()


def test_unverified_codes_are_not_used_for_decisions() -> None:
    knowledge = load_knowledge()
    decided = set(knowledge.analyte_by_code)
    decided |= {code for index in knowledge.concepts_by_code.values() for code in index}
    assert decided.isdisjoint(knowledge.unverified)


# A verified code names where it was checked precisely enough to re-check: a public repository with the
# 40-hex commit and the file path (github.com/OWNER/REPO@COMMIT:PATH), or a named package and its version
# (package NAME#VERSION). ICD-10-CM is checked against the CMS files instead (test_valuesets_conditions).
SOURCED_SYSTEMS = {
    "http://loinc.org",
    "http://snomed.info/sct",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://www.ama-assn.org/go/cpt",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
}
PRECISE_SOURCE = re.compile(
    r"github\.com/[\w.-]+/[\w.-]+@[0-9a-f]{40}:[\w./+-]+\.\w+|package [a-z0-9][\w.-]*#\d[\w.-]*"
)


def names_a_precise_source(provenance: str) -> bool:
    return PRECISE_SOURCE.search(provenance) is not None


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_verified_code_names_a_precise_public_source(path: Path) -> None:
    vs = load(path)
    missing = []
    for include in vs["compose"]["include"]:
        if include["system"] not in SOURCED_SYSTEMS:
            continue
        for concept in include["concept"]:
            exts = {e["url"]: e for e in concept.get("extension", [])}
            verified = exts[VERIFICATION_EXT]["valueCode"] == "verified"
            if verified and not names_a_precise_source(exts[PROVENANCE_EXT]["valueString"]):
                missing.append(concept["code"])
    assert missing == []


@pytest.mark.parametrize(
    ("provenance", "precise"),
    [
        ("Verified: listed. Source: github.com/HL7/PDDI-CDS@" + "0" * 39 + "a:resources/vs.xml.", True),
        ("Verified: listed in package hl7.fhir.uv.pddi#1.0.0 (ValueSet valueset-renal-LOINC).", True),
        ("Verified: github.com/HL7/PDDI-CDS, resources/vs.xml at commit 04c8e9b7", False),
        ("Verified: loinc.org term page (LOINC 2.71)", False),
        ("Verified: Source: github.com/HL7/PDDI-CDS@04c8e9b7:resources/vs.xml", False),
    ],
)
def test_the_source_check_can_fail(provenance: str, precise: bool) -> None:
    assert names_a_precise_source(provenance) is precise
