"""Conditions, procedures and medications in the snapshot: statuses, verification, routes, dialysis, CKD."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from terminology.knowledge import load_knowledge
from terminology.snapshot import DialysisEvidence, PatientSnapshot
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd

K = load_knowledge()
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def snap(*resources: dict[str, Any]) -> PatientSnapshot:
    return build_snapshot("p1", [fd.patient(), fd.bundle(list(resources))], K, fd.NOW)


def condition(
    system: str,
    code: str,
    *,
    clinical: str | None = "active",
    verification: str | None = "confirmed",
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"c-{code}",
        "code": {"coding": [{"system": system, "code": code, "display": f"code {code}"}]},
        "subject": {"reference": "Patient/p1"},
        **extra,
    }
    if clinical:
        resource["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verification:
        resource["verificationStatus"] = {"coding": [{"code": verification}]}
    return resource


@pytest.mark.parametrize(
    ("system", "code", "concepts"),
    [
        (ICD10, "M34.1", {"systemic-sclerosis", "systemic-sclerosis-limited"}),
        (ICD10, "M33.02", {"dermatomyositis", "dermatomyositis-juvenile"}),
        (SNOMED, "55464009", {"systemic-lupus-erythematosus"}),
        (ICD10, "N18.6", {"end-stage-renal-disease"}),
        (ICD10, "L94.2", {"calcinosis-cutis"}),
    ],
)
def test_condition_codes_map_to_concepts(system: str, code: str, concepts: set[str]) -> None:
    records = snap(condition(system, code)).conditions
    assert [set(r.concepts) for r in records] == [concepts]


@pytest.mark.parametrize(
    ("clinical", "verification", "present", "ignored"),
    [
        ("active", "confirmed", True, None),
        ("recurrence", "provisional", True, None),
        ("relapse", None, True, None),
        (None, None, True, None),
        ("resolved", "confirmed", False, None),
        ("inactive", "confirmed", False, None),
        ("remission", "confirmed", False, None),
        ("active", "refuted", None, "condition-refuted"),
        ("active", "entered-in-error", None, "condition-entered-in-error"),
    ],
)
def test_condition_statuses(
    clinical: str | None, verification: str | None, present: bool | None, ignored: str | None
) -> None:
    s = snap(condition(ICD10, "M34.1", clinical=clinical, verification=verification))
    assert bool(s.conditions_of("systemic-sclerosis")) is bool(present)
    assert [i.reason for i in s.ignored] == ([ignored] if ignored else [])


def test_abated_condition_is_not_present() -> None:
    s = snap(condition(ICD10, "M34.1", abatementDateTime="2020-01-01"))
    assert s.conditions_of("systemic-sclerosis") == ()


def test_unverified_code_is_reported_not_used() -> None:
    s = snap(condition(SNOMED, "403514006"))
    assert s.conditions == ()
    assert [i.reason for i in s.ignored] == ["code-unverified"]


def test_unrelated_conditions_are_not_kept() -> None:
    s = snap(condition(ICD10, "J45.909"))
    assert (s.conditions, s.ignored) == ((), ())


def test_other_patients_condition_is_ignored() -> None:
    s = snap(condition(ICD10, "M34.1", subject={"reference": "Patient/p2"}))
    assert s.conditions == ()
    assert [i.reason for i in s.ignored] == ["subject-mismatch"]


def test_ckd_stage_from_conditions_takes_the_highest_present_stage() -> None:
    s = snap(
        condition(ICD10, "N18.31"), condition(ICD10, "N18.4"), condition(ICD10, "N18.6", clinical="resolved")
    )
    assert s.ckd is not None
    assert (s.ckd.stage, s.ckd.basis) == (4, "coded")


def test_dialysis_from_status_condition_or_recent_procedure() -> None:
    assert snap(condition(ICD10, "Z99.2")).on_dialysis
    recent = {
        "resourceType": "Procedure",
        "id": "hd1",
        "status": "completed",
        "code": {"coding": [{"system": SNOMED, "code": "302497006", "display": "Hemodialysis"}]},
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": "2026-11-10T08:00:00Z",
    }
    assert snap(recent).dialysis == (
        DialysisEvidence("Procedure/hd1", "Hemodialysis", date(2026, 11, 10), "302497006"),
    )
    old = recent | {"performedDateTime": "2024-01-10T08:00:00Z"}
    assert not snap(old).on_dialysis
    assert not snap(condition(ICD10, "N18.6")).on_dialysis  # ESRD alone is not dialysis


def medication(
    kind: str,
    text: str,
    *,
    route: dict[str, Any] | None = None,
    status: str = "active",
    code: tuple[str, str] | None = None,
) -> dict[str, Any]:
    coding = [{"system": RXNORM, "code": code[0], "display": code[1]}] if code else []
    resource: dict[str, Any] = {
        "resourceType": kind,
        "id": f"m-{len(text)}",
        "status": status,
        "medicationCodeableConcept": {"coding": coding, "text": text},
        "subject": {"reference": "Patient/p1"},
    }
    if kind == "MedicationRequest":
        resource["authoredOn"] = "2026-11-15"
        if route:
            resource["dosageInstruction"] = [{"route": route}]
    else:
        resource["effectiveDateTime"] = "2026-11-15T10:00:00Z"
        if route:
            resource["dosage"] = {"route": route}
    return resource


IV_SNOMED = {"coding": [{"system": SNOMED, "code": "47625008", "display": "Intravenous route"}]}


@pytest.mark.parametrize(
    ("kind", "text", "route", "categories", "iv"),
    [
        (
            "MedicationAdministration",
            "Calcium Gluconate 100 MG/ML Injectable Solution",
            IV_SNOMED,
            {"iv-calcium-salts", "calcium-supplements"},
            True,
        ),
        (
            "MedicationRequest",
            "calcium gluconate 1 g",
            {"text": "IV"},
            {"iv-calcium-salts", "calcium-supplements"},
            True,
        ),
        (
            "MedicationRequest",
            "Calcium carbonate 500 mg tablet",
            {"text": "oral"},
            {"calcium-based-phosphate-binders", "calcium-supplements"},
            False,
        ),
        ("MedicationRequest", "Warfarin Sodium 5 MG Oral Tablet", None, {"warfarin"}, None),
        (
            "MedicationRequest",
            "dexamethasone sodium phosphate 4 mg/mL injection",
            IV_SNOMED,
            {"systemic-corticosteroids"},
            True,
        ),
        ("MedicationRequest", "amlodipine 5 mg (calcium channel blocker)", None, set(), None),
    ],
)
def test_medications_by_text_with_route(
    kind: str, text: str, route: dict[str, Any] | None, categories: set[str], iv: bool | None
) -> None:
    records = snap(medication(kind, text, route=route)).medications
    if not categories:
        assert records == ()
        return
    assert [(set(r.categories), r.intravenous, r.matched_by) for r in records] == [(categories, iv, "text")]


def test_medication_matched_by_verified_code() -> None:
    records = snap(medication("MedicationRequest", "", code=("11289", "warfarin"))).medications
    assert [(set(r.categories), r.matched_by) for r in records] == [({"warfarin"}, "code")]


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("MedicationRequest", "entered-in-error"),
        ("MedicationRequest", "cancelled"),
        ("MedicationAdministration", "not-done"),
    ],
)
def test_medication_statuses_that_mean_not_given(kind: str, status: str) -> None:
    s = snap(medication(kind, "warfarin 5 mg", status=status))
    assert s.medications == ()
    assert [i.reason for i in s.ignored] == ["status-unusable"]
