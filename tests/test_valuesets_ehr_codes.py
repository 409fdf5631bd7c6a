"""Codes the way EHRs send them: billing codes, clinical-drug codes without text, SNOMED CT problem lists.

Each case is a resource coded only as a real EHR or Synthea export codes it (no display, no text unless said),
read through the real snapshot builder, so a code missing from the value sets, or present but unverified,
shows up as a patient fact that is not seen.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from terminology.knowledge import load_knowledge
from terminology.snapshot import DialysisEvidence, PatientSnapshot
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd

K = load_knowledge()
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def snap(*resources: dict[str, Any]) -> PatientSnapshot:
    return build_snapshot("p1", [fd.patient(), fd.bundle(list(resources))], K, fd.NOW)


def procedure(system: str, code: str, performed: str = "2026-11-10T08:00:00Z") -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": f"proc-{code}",
        "status": "completed",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": performed,
    }


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (CPT, "90935"),  # hemodialysis session, single evaluation
        (CPT, "90937"),
        (CPT, "90945"),  # dialysis other than hemodialysis (peritoneal, CRRT)
        (CPT, "90947"),
        (CPT, "90960"),  # monthly ESRD services, adult, 4+ visits
        (CPT, "90970"),
        (HCPCS, "G0257"),  # unscheduled dialysis for an ESRD patient
        (HCPCS, "S9339"),  # home peritoneal dialysis per diem
        (SNOMED, "238318009"),  # continuous ambulatory peritoneal dialysis
        (SNOMED, "714749008"),  # continuous renal replacement therapy
    ],
)
def test_a_dialysis_billing_or_modality_code_alone_means_on_dialysis(system: str, code: str) -> None:
    s = snap(procedure(system, code))
    assert s.dialysis == (DialysisEvidence(f"Procedure/proc-{code}", code, date(2026, 11, 10), code),)


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (CPT, "90997"),  # hemoperfusion (poisoning), not renal dialysis
        (SNOMED, "10848006"),  # removal of a peritoneal dialysis catheter
        (SNOMED, "427053002"),  # extracorporeal albumin dialysis: liver support
    ],
)
def test_codes_left_out_of_dialysis_do_not_mean_on_dialysis(system: str, code: str) -> None:
    assert not snap(procedure(system, code)).on_dialysis


def test_an_old_cpt_dialysis_session_does_not_mean_on_dialysis_now() -> None:
    assert not snap(procedure(CPT, "90935", performed="2024-01-10T08:00:00Z")).on_dialysis


def medication_request(
    code: str, *, text: str | None = None, route: dict[str, Any] | None = None
) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [{"system": RXNORM, "code": code}]}
    if text is not None:
        concept["text"] = text
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": f"mr-{code}",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2026-11-15",
    }
    if route is not None:
        resource["dosageInstruction"] = [{"route": route}]
    return resource


@pytest.mark.parametrize(
    "code",
    [
        "855332",  # Warfarin Sodium 5 MG Oral Tablet (SCD, Synthea's code)
        "855336",  # Warfarin Sodium 5 MG Oral Tablet [Jantoven] (SBD)
        "202421",  # Coumadin (BN)
        "1161790",  # Warfarin Oral Product (SCDG)
    ],
)
def test_warfarin_by_its_clinical_drug_code_alone(code: str) -> None:
    records = snap(medication_request(code)).medications
    assert [(set(r.categories), r.matched_by) for r in records] == [({"warfarin"}, "code")]


def condition(system: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"c-{code}",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/p1"},
    }


@pytest.mark.parametrize(
    ("code", "concepts"),
    [
        ("162864005", {"obesity"}),  # Body mass index 30+ - obesity (Synthea)
        ("408512008", {"obesity"}),  # Body mass index 40+ - severely obese
        ("819948005", {"obesity"}),  # Obese class III
        ("311671000119100", {"dermatomyositis", "dermatomyositis-juvenile"}),  # JDM, respiratory involvement
        ("296241000119107", {"dermatomyositis"}),  # respiratory disorder due to dermatomyositis
        ("196133001", {"systemic-sclerosis"}),  # lung disease with systemic sclerosis
        ("398049005", {"mixed-connective-tissue-disease"}),
        ("36402006", {"systemic-lupus-erythematosus"}),  # SLE glomerulonephritis, WHO class IV
        ("24369008", {"sarcoidosis"}),  # pulmonary sarcoidosis
        ("7085002", {"sarcoidosis", "hypercalcemia"}),  # hypercalcemia due to sarcoidosis
        ("91478007", {"hyperparathyroidism"}),  # secondary hyperparathyroidism
    ],
)
def test_snomed_problem_list_codes_map_to_their_concept(code: str, concepts: set[str]) -> None:
    s = snap(condition(SNOMED, code))
    assert ([set(c.concepts) for c in s.conditions], s.ignored) == ([concepts], ())


@pytest.mark.parametrize(
    "code",
    [
        "162863004",  # BMI 25-29 overweight: not obesity
        "238131007",  # overweight: not obesity
        "239886003",  # limited (cutaneous) lupus erythematosus: not SLE
        "19682006",  # lupus hepatitis (autoimmune hepatitis): not SLE
        "66146003",  # sarcoid type granuloma: a morphology, not the disease
    ],
)
def test_look_alike_codes_are_left_out(code: str) -> None:
    assert snap(condition(SNOMED, code)).conditions == ()


def test_total_25_hydroxyvitamin_d_is_read() -> None:
    """LOINC 62292-8 (D2+D3, the total most US labs report) is a verified code: a toxic level is seen."""
    s = snap(fd.lab("62292-8", 180, "ng/mL", oid="vitd"))
    latest = s.latest("vitamin-d-25-hydroxy")
    assert latest is not None
    assert (latest.resource_id, latest.value, latest.unit) == ("vitd", 180, "ng/mL")
    assert [i.resource_id for i in s.ignored] == []


def medication_text_request(text: str, route: dict[str, Any] | None = None) -> dict[str, Any]:
    resource = medication_request("0", text=text, route=route)
    resource["medicationCodeableConcept"] = {"text": text}
    return resource


@pytest.mark.parametrize(
    ("text", "route", "intravenous"),
    [
        ("Calcium Gluconate 100 MG/ML Injectable Solution", None, True),  # RxNorm SCD name, no route
        ("Calcium Chloride 100 MG/ML Injectable Solution", None, True),
        ("CALCIUM CHLORIDE 10% INJ 1 G/10 ML SYRINGE", None, True),
        ("Potassium Phosphates 15 mmol in sodium chloride 0.9% 250 mL IVPB", None, True),
        ("calcium gluconate 500 MG Oral Tablet", None, None),  # oral: route unknown, not intravenous
        ("Calcium Gluconate 100 MG/ML Injectable Solution", {"text": "oral"}, False),  # a given route wins
        ("calcium gluconate injection for intramuscular use", None, None),  # a non-IV injection route
        # an injectable corticosteroid may be intramuscular or intra-articular: the form says nothing
        ("Triamcinolone Acetonide 40 MG/ML Injectable Suspension [Kenalog]", None, None),
    ],
)
def test_injectable_dose_form_of_an_iv_only_salt_reads_as_intravenous_when_no_route_is_given(
    text: str, route: dict[str, Any] | None, intravenous: bool | None
) -> None:
    records = snap(medication_text_request(text, route)).medications
    assert [r.intravenous for r in records] == [intravenous]


@pytest.mark.parametrize(
    ("code", "concepts"),
    [
        ("420279001", {"diabetes-mellitus"}),  # renal disorder due to type 2 diabetes mellitus
        ("236434000", {"end-stage-renal-disease"}),  # ESRF untreated by renal replacement therapy
    ],
)
def test_kidney_and_diabetes_complication_codes_alone(code: str, concepts: set[str]) -> None:
    assert [set(c.concepts) for c in snap(condition(SNOMED, code)).conditions] == [concepts]
