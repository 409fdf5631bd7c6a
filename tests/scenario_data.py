"""Builders of FHIR R4 JSON with stable ids and absolute dates, and the golden scenarios' requests.

The golden requests under ``tests/golden/`` were written by ``python -m tests.scenario_data`` from
:data:`SCENARIOS`; once written, the JSON files are the inputs of ``tests/test_golden.py`` (they may be
edited by hand; rerunning this module rewrites every ``*.request.json``). Dates are absolute ISO dates
computed from the fixed clock :data:`NOW` (2026-11-21T12:00:00Z), which the golden test uses as ``now``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from service.api.hooks import hook_call
from tests import fhir_data as fd

NOW = fd.NOW
GOLDEN = Path(__file__).parent / "golden"
Resource = dict[str, Any]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

# Test data may name codes (rule code may not): LOINC code -> display, for the labs the scenarios use.
LABS = {
    "17861-6": "Calcium [Mass/volume] in Serum or Plasma",
    "2000-8": "Calcium [Moles/volume] in Serum or Plasma",
    "1995-0": "Calcium.ionized [Moles/volume] in Serum or Plasma",
    "29265-6": "Calcium [Moles/volume] corrected for albumin in Serum or Plasma",
    "2777-1": "Phosphate [Mass/volume] in Serum or Plasma",
    "14879-1": "Phosphate [Moles/volume] in Serum or Plasma",
    "1751-7": "Albumin [Mass/volume] in Serum or Plasma",
    "2160-0": "Creatinine [Mass/volume] in Serum or Plasma",
    "98979-8": "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood "
    "by Creatinine-based formula (CKD-EPI 2021)",
    "2731-8": "Parathyrin.intact [Mass/volume] in Serum or Plasma",
    "14866-8": "Parathyrin.intact [Moles/volume] in Serum or Plasma",
    "1989-3": "25-Hydroxyvitamin D3 [Mass/volume] in Serum or Plasma",
    "39156-5": "Body mass index (BMI) [Ratio]",
    # The blood codes and eGFR (MDRD) that Synthea writes
    "49765-1": "Calcium [Mass/volume] in Blood",
    "38483-4": "Creatinine [Mass/volume] in Blood",
    "33914-3": "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by "
    "Creatinine-based formula (MDRD)",
}
CALCIUM_MASS, CALCIUM_MOLAR, IONIZED, CORRECTED = "17861-6", "2000-8", "1995-0", "29265-6"
PHOSPHATE_MASS, PHOSPHATE_MOLAR, ALBUMIN, CREATININE, EGFR = (
    "2777-1",
    "14879-1",
    "1751-7",
    "2160-0",
    "98979-8",
)
PTH_MASS, PTH_MOLAR, VITAMIN_D, BMI = "2731-8", "14866-8", "1989-3", "39156-5"
CALCIUM_BLOOD, CREATININE_BLOOD, EGFR_MDRD = "49765-1", "38483-4", "33914-3"
ROUTE_IV = (SNOMED, "47625008", "Intravenous route")
ROUTE_ORAL = (SNOMED, "26643006", "Oral route")


def when(days_ago: float, *, now: datetime = NOW) -> str:
    """The absolute FHIR dateTime ``days_ago`` days before ``now`` (UTC, 'Z')."""
    return (now - timedelta(days=days_ago)).astimezone(UTC).isoformat().replace("+00:00", "Z")


def patient(pid: str, gender: str, birth: str) -> Resource:
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": birth}


def lab(
    oid: str,
    pid: str,
    code: str,
    value: float,
    unit: str,
    days_ago: float,
    *,
    status: str = "final",
    comparator: str | None = None,
) -> Resource:
    """A laboratory Observation with a UCUM quantity (``unit`` is the UCUM code and the text)."""
    quantity: Resource = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    if comparator:
        quantity["comparator"] = comparator
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code, "display": LABS.get(code, code)}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when(days_ago),
        "valueQuantity": quantity,
    }


def condition(
    cid: str,
    pid: str,
    system: str,
    code: str,
    display: str,
    *,
    clinical: str = "active",
    verification: str = "confirmed",
    onset: str | None = None,
) -> Resource:
    resource: Resource = {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": clinical}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": verification}]},
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
        "subject": {"reference": f"Patient/{pid}"},
    }
    if onset:
        resource["onsetDateTime"] = onset
    return resource


def _route(route: tuple[str, str, str]) -> Resource:
    system, code, display = route
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def medication_request(
    mid: str,
    pid: str,
    text: str,
    days_ago: float,
    *,
    rxnorm: str | None = None,
    route: tuple[str, str, str] | None = None,
    status: str = "active",
) -> Resource:
    concept: Resource = {"text": text}
    if rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm, "display": text}]
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": when(days_ago),
    }
    if route:
        resource["dosageInstruction"] = [{"text": text, "route": _route(route)}]
    return resource


def medication_administration(
    mid: str,
    pid: str,
    text: str,
    days_ago: float,
    *,
    route: tuple[str, str, str] | None = ROUTE_IV,
    status: str = "completed",
) -> Resource:
    resource: Resource = {
        "resourceType": "MedicationAdministration",
        "id": mid,
        "status": status,
        "medicationCodeableConcept": {"text": text},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when(days_ago),
    }
    if route:
        resource["dosage"] = {"route": _route(route)}
    return resource


def procedure(prid: str, pid: str, code: str, display: str, days_ago: float) -> Resource:
    return {
        "resourceType": "Procedure",
        "id": prid,
        "status": "completed",
        "code": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{pid}"},
        "performedDateTime": when(days_ago),
    }


def hemodialysis(prid: str, pid: str, days_ago: float) -> Resource:
    return procedure(prid, pid, "302497006", "Hemodialysis (procedure)", days_ago)


def dialysis_dependence(cid: str, pid: str) -> Resource:
    return condition(cid, pid, ICD10, "Z99.2", "Dependence on renal dialysis")


def bundle(resources: list[Resource] | None) -> Resource | None:
    """A searchset Bundle of ``resources``; None (the EHR's 'no data') stays None."""
    return None if resources is None else fd.bundle(resources)


def request(
    scenario: str,
    pat: Resource,
    *,
    labs: list[Resource] | None = None,
    conditions: list[Resource] | None = None,
    medication_requests: list[Resource] | None = None,
    medication_administrations: list[Resource] | None = None,
    procedures: list[Resource] | None = None,
    hook: str = "patient-view",
    drafts: list[Resource] | None = None,
) -> Resource:
    """A call of ``hook`` (built by ``service.api.hooks.hook_call``, as every request builder is) with
    every prefetch key: a Bundle, or ``null`` where the EHR has no data; ``drafts`` are an order hook's
    draft orders."""
    body = hook_call(
        hook,
        pat["id"],
        user="Practitioner/golden-clinician",
        drafts=drafts or [],
        prefetch={
            "patient": pat,
            "labs": bundle(labs),
            "conditions": bundle(conditions),
            "medicationRequests": bundle(medication_requests),
            "medicationAdministrations": bundle(medication_administrations),
            "procedures": bundle(procedures),
        },
    )
    body["hookInstance"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"calcinosis-cds/golden/{scenario}"))
    return body


def synthea_shaped(resources: list[Resource], pat: Resource) -> Resource:
    """A searchset the way a Synthea-derived record arrives: every entry with a ``urn:uuid`` fullUrl, the
    Patient included, and each subject a ``urn:uuid`` reference the Bundle resolves (FHIR R4 § Bundle)."""
    urn = f"urn:uuid:{pat['id']}"
    entries = [{"fullUrl": urn, "resource": pat, "search": {"mode": "include"}}]
    for resource in resources:
        entries.append(
            {
                "fullUrl": f"urn:uuid:{resource['id']}",
                "resource": {**resource, "subject": {"reference": urn}},
                "search": {"mode": "match"},
            }
        )
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources), "entry": entries}


def sandbox_page(base: str, query: str, resources: list[Resource]) -> Resource:
    """A search as the official CDS Hooks sandbox sends it: the server's answer to ``POST _search``, one
    page with its ``total``, a ``self`` link and absolute fullUrls (complete here: fewer than 20 matches)."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": f"{base}/{query}"}],
        "entry": [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


# --- The golden scenarios ------------------------------------------------------------------------------


def synthea_shaped_record() -> Resource:
    """Blood (not serum) calcium, eGFR written mL/min, urn:uuid subjects: read as a clinician would."""
    p = "3f2b8e2a-6d0c-4c8e-9a77-1f0b5c2d9e41"
    pat = patient(p, "male", "1958-02-11")
    labs = [
        lab("syn-ca", p, CALCIUM_BLOOD, 12.6, "mg/dL", 3),
        lab("syn-cr", p, CREATININE_BLOOD, 1.1, "mg/dL", 3),
        {
            **lab("syn-egfr", p, EGFR_MDRD, 67.0, "mL/min", 3),
            "valueQuantity": {"value": 67.0, "unit": "mL/min"},
        },
    ]
    body = request("synthea-shaped-record", pat, labs=[], conditions=[], medication_requests=[])
    body["prefetch"]["labs"] = synthea_shaped(labs, pat)
    return body


def sandbox_shaped_prefetch() -> Resource:
    """The official sandbox's prefetch: each key one page from the FHIR server, with total and self link."""
    p = "smart-1557780"
    base = "http://localhost:8090/fhir"
    pat = patient(p, "female", "1951-09-30")
    labs = [
        lab("sbx-ca", p, CALCIUM_MASS, 10.1, "mg/dL", 4),
        lab("sbx-alb", p, ALBUMIN, 4.1, "g/dL", 4),
        lab("sbx-p", p, PHOSPHATE_MASS, 5.3, "mg/dL", 4),
    ]
    conditions = [dialysis_dependence("sbx-z992", p)]
    body = request("sandbox-shaped-prefetch", pat)
    body["fhirServer"] = base
    body["prefetch"] = {
        "patient": pat,
        "labs": sandbox_page(base, f"Observation?patient={p}", labs),
        "conditions": sandbox_page(base, f"Condition?patient={p}", conditions),
        "medicationRequests": sandbox_page(base, f"MedicationRequest?patient={p}", []),
        "medicationAdministrations": sandbox_page(base, f"MedicationAdministration?patient={p}", []),
        "procedures": sandbox_page(base, f"Procedure?patient={p}", []),
    }
    return body


def normal_patient() -> Resource:
    p = "pt-normal"
    return request(
        "normal-patient",
        patient(p, "female", "1970-03-14"),
        labs=[
            lab("normal-ca", p, CALCIUM_MASS, 9.4, "mg/dL", 20),
            lab("normal-alb", p, ALBUMIN, 4.2, "g/dL", 20),
            lab("normal-p", p, PHOSPHATE_MASS, 3.5, "mg/dL", 20),
            lab("normal-cr", p, CREATININE, 0.8, "mg/dL", 20),
        ],
        conditions=[condition("normal-htn", p, ICD10, "I10", "Essential (primary) hypertension")],
        medication_requests=[],
        medication_administrations=None,
        procedures=None,
    )


def _hypercalcemia(scenario: str, value: float, unit: str, code: str) -> Resource:
    p = "pt-hypercalcemia"
    return request(
        scenario,
        patient(p, "male", "1955-06-30"),
        labs=[lab("hyperca-ca", p, code, value, unit, 3)],
        conditions=[],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def hypercalcemia_conventional() -> Resource:
    return _hypercalcemia("hypercalcemia-conventional", 12.4, "mg/dL", CALCIUM_MASS)


def hypercalcemia_si() -> Resource:
    # 3.094 mmol/L x 4.0078 mg/mmol = 12.40 mg/dL: the same result as the conventional scenario.
    return _hypercalcemia("hypercalcemia-si", 3.094, "mmol/L", CALCIUM_MOLAR)


def _albumin_pair(scenario: str, albumin: float) -> Resource:
    p = "pt-albumin"
    return request(
        scenario,
        patient(p, "female", "1948-11-02"),
        labs=[
            lab("alb-ca", p, CALCIUM_MASS, 9.8, "mg/dL", 2),
            lab("alb-alb", p, ALBUMIN, albumin, "g/dL", 2),
            lab("alb-p", p, PHOSPHATE_MASS, 3.6, "mg/dL", 2),
            lab("alb-cr", p, CREATININE, 0.9, "mg/dL", 2),
        ],
        conditions=[],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def low_albumin_corrected_hypercalcemia() -> Resource:
    # 9.8 + 0.8 x (4.0 - 2.4) = 11.08 mg/dL corrected: mild hypercalcemia.
    return _albumin_pair("low-albumin-corrected-hypercalcemia", 2.4)


def normal_albumin_no_correction() -> Resource:
    return _albumin_pair("normal-albumin-no-correction", 4.0)


def stale_abnormal_superseded() -> Resource:
    p = "pt-stale"
    return request(
        "stale-abnormal-superseded",
        patient(p, "female", "1964-01-20"),
        labs=[
            lab("stale-ca-old", p, CALCIUM_MASS, 12.8, "mg/dL", 60),
            lab("stale-alb-old", p, ALBUMIN, 4.0, "g/dL", 60),
            lab("stale-ca-new", p, CALCIUM_MASS, 9.5, "mg/dL", 5),
            lab("stale-alb-new", p, ALBUMIN, 4.1, "g/dL", 5),
            lab("stale-p-new", p, PHOSPHATE_MASS, 3.8, "mg/dL", 5),
        ],
        conditions=[],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def refuted_diagnosis() -> Resource:
    p = "pt-refuted"
    return request(
        "refuted-diagnosis",
        patient(p, "female", "1972-08-09"),
        labs=[],
        conditions=[
            condition(
                "refuted-ssc", p, ICD10, "M34.9", "Systemic sclerosis, unspecified", verification="refuted"
            )
        ],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def entered_in_error_lab() -> Resource:
    p = "pt-eie"
    return request(
        "entered-in-error-lab",
        patient(p, "male", "1959-12-01"),
        labs=[lab("eie-ca", p, CALCIUM_MASS, 13.2, "mg/dL", 1, status="entered-in-error")],
        conditions=[],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def hypercalcemia_with_unused_data() -> Resource:
    """A firing card whose detail lists the calcium results present but not used, each with its reason."""
    p = "pt-unused"
    preliminary = lab("unused-prelim", p, CALCIUM_MASS, 9.1, "mg/dL", 0.5, status="preliminary")
    unknown_unit = lab("unused-unit", p, CALCIUM_MASS, 4.9, "meq/L", 0.6)
    return request(
        "hypercalcemia-with-unused-data",
        patient(p, "female", "1958-06-02"),
        labs=[
            lab("unused-ca", p, CALCIUM_MASS, 12.3, "mg/dL", 1),
            lab("unused-alb", p, ALBUMIN, 4.0, "g/dL", 1),
            lab("unused-eie", p, CALCIUM_MASS, 8.9, "mg/dL", 1, status="entered-in-error"),
            preliminary,
            unknown_unit,
        ],
        conditions=[],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def severe_hypercalcemia_critical() -> Resource:
    p = "pt-severe"
    return request(
        "severe-hypercalcemia-critical",
        patient(p, "female", "1951-05-17"),
        labs=[
            # 14.6 + 0.8 x (4.0 - 3.8) = 14.76 mg/dL corrected: severe.
            lab("severe-ca", p, CALCIUM_MASS, 14.6, "mg/dL", 1),
            lab("severe-alb", p, ALBUMIN, 3.8, "g/dL", 1),
            lab("severe-p", p, PHOSPHATE_MASS, 3.0, "mg/dL", 1),
            lab("severe-cr", p, CREATININE, 1.1, "mg/dL", 1),
            lab("severe-pth", p, PTH_MASS, 8.0, "pg/mL", 1),
        ],
        conditions=[],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def ionized_hypercalcemia() -> Resource:
    p = "pt-ionized"
    return request(
        "ionized-hypercalcemia",
        patient(p, "male", "1967-02-11"),
        labs=[
            lab("ion-ica", p, IONIZED, 1.45, "mmol/L", 2),
            lab("ion-ca", p, CALCIUM_MASS, 10.3, "mg/dL", 2),
            lab("ion-p", p, PHOSPHATE_MASS, 3.2, "mg/dL", 2),
        ],
        conditions=[],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def hyperphosphatemia_ckd_product() -> Resource:
    p = "pt-ckd4"
    return request(
        "hyperphosphatemia-ckd-product",
        patient(p, "male", "1958-09-23"),
        labs=[
            # Ca×P = 10.0 x 6.2 = 62 mg²/dL² on the same day (albumin 4.0: corrected = total).
            lab("ckd4-ca", p, CALCIUM_MASS, 10.0, "mg/dL", 4),
            lab("ckd4-alb", p, ALBUMIN, 4.0, "g/dL", 4),
            lab("ckd4-p", p, PHOSPHATE_MASS, 6.2, "mg/dL", 4),
            lab("ckd4-cr", p, CREATININE, 3.2, "mg/dL", 4),
            lab("ckd4-pth", p, PTH_MASS, 180.0, "pg/mL", 4),
            lab("ckd4-vitd", p, VITAMIN_D, 28.0, "ng/mL", 40),
        ],
        conditions=[condition("ckd4-n184", p, ICD10, "N18.4", "Chronic kidney disease, stage 4 (severe)")],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def calciphylaxis_dialysis_risk_factors() -> Resource:
    p = "pt-calciphylaxis"
    return request(
        "calciphylaxis-dialysis-risk-factors",
        patient(p, "female", "1962-04-05"),
        labs=[
            # Corrected Ca 9.0 + 0.8 x (4.0 - 3.1) = 9.72 (normal); P 6.8 high; albumin 3.1 low.
            lab("cx-ca", p, CALCIUM_MASS, 9.0, "mg/dL", 6),
            lab("cx-alb", p, ALBUMIN, 3.1, "g/dL", 6),
            lab("cx-p", p, PHOSPHATE_MASS, 6.8, "mg/dL", 6),
            lab("cx-cr", p, CREATININE, 8.1, "mg/dL", 6),
            lab("cx-pth", p, PTH_MASS, 420.0, "pg/mL", 6),
            lab("cx-bmi", p, BMI, 27.0, "kg/m2", 30),
        ],
        conditions=[
            dialysis_dependence("cx-z992", p),
            condition("cx-esrd", p, ICD10, "N18.6", "End stage renal disease"),
            condition(
                "cx-dm", p, ICD10, "E11.22", "Type 2 diabetes mellitus with diabetic chronic kidney disease"
            ),
        ],
        medication_requests=[
            medication_request(
                "cx-warfarin", p, "Warfarin Sodium 5 MG Oral Tablet", 45, rxnorm="855332", route=ROUTE_ORAL
            )
        ],
        medication_administrations=[],
        procedures=[hemodialysis("cx-hd", p, 2)],
    )


def dialysis_no_risk_factors() -> Resource:
    p = "pt-dialysis-plain"
    return request(
        "dialysis-no-risk-factors",
        patient(p, "male", "1966-10-12"),
        labs=[
            lab("dp-ca", p, CALCIUM_MASS, 9.2, "mg/dL", 10),
            lab("dp-alb", p, ALBUMIN, 4.0, "g/dL", 10),
            lab("dp-cr", p, CREATININE, 7.5, "mg/dL", 10),
            lab("dp-pth", p, PTH_MASS, 250.0, "pg/mL", 10),
            lab("dp-bmi", p, BMI, 24.0, "kg/m2", 10),
            # The last phosphate (normal) is 120 days old: older than the 90-day dialysis window.
            lab("dp-p", p, PHOSPHATE_MASS, 4.0, "mg/dL", 120),
        ],
        conditions=[dialysis_dependence("dp-z992", p)],
        medication_requests=[],
        medication_administrations=[],
        procedures=[hemodialysis("dp-hd", p, 2)],
    )


def dialysis_topical_steroid() -> Resource:
    p = "pt-dialysis-topical"
    return request(
        "dialysis-topical-steroid",
        patient(p, "male", "1966-10-12"),
        labs=[
            lab("dts-ca", p, CALCIUM_MASS, 9.2, "mg/dL", 10),
            lab("dts-alb", p, ALBUMIN, 4.0, "g/dL", 10),
            lab("dts-p", p, PHOSPHATE_MASS, 4.2, "mg/dL", 10),
            lab("dts-cr", p, CREATININE, 7.5, "mg/dL", 10),
            lab("dts-pth", p, PTH_MASS, 250.0, "pg/mL", 10),
            lab("dts-vitd", p, VITAMIN_D, 30.0, "ng/mL", 10),
            lab("dts-bmi", p, BMI, 24.0, "kg/m2", 10),
        ],
        conditions=[dialysis_dependence("dts-z992", p)],
        medication_requests=[
            medication_request(
                "dts-hc-cream",
                p,
                "Hydrocortisone 1 % Topical Cream",
                10,
                route=(SNOMED, "6064005", "Topical route"),
            )
        ],
        medication_administrations=[],
        procedures=[hemodialysis("dts-hd", p, 2)],
    )


def sarcoidosis_hypercalcemia() -> Resource:
    p = "pt-sarcoid"
    return request(
        "sarcoidosis-hypercalcemia",
        patient(p, "female", "1979-04-14"),
        labs=[
            # 11.4 + 0.8 x (4.0 - 3.6) = 11.72 mg/dL corrected: mild; PTH suppressed.
            lab("sarc-ca", p, CALCIUM_MASS, 11.4, "mg/dL", 4),
            lab("sarc-alb", p, ALBUMIN, 3.6, "g/dL", 4),
            lab("sarc-p", p, PHOSPHATE_MASS, 3.9, "mg/dL", 4),
            lab("sarc-cr", p, CREATININE, 0.8, "mg/dL", 4),
            lab("sarc-pth", p, PTH_MASS, 9.0, "pg/mL", 4),
        ],
        conditions=[condition("sarc-d860", p, ICD10, "D86.0", "Sarcoidosis of lung")],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def crest_normal_labs() -> Resource:
    p = "pt-crest"
    return request(
        "crest-normal-labs",
        patient(p, "female", "1957-07-28"),
        labs=[
            lab("crest-ca", p, CALCIUM_MASS, 9.3, "mg/dL", 90),
            lab("crest-alb", p, ALBUMIN, 4.1, "g/dL", 90),
            lab("crest-p", p, PHOSPHATE_MASS, 3.4, "mg/dL", 90),
        ],
        conditions=[condition("crest-m341", p, ICD10, "M34.1", "CR(E)ST syndrome", onset="2015-03-01")],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def crest_new_diagnosis() -> Resource:
    p = "pt-crest-new"
    return request(
        "crest-new-diagnosis",
        patient(p, "female", "1957-07-28"),
        labs=[
            lab("crestn-ca", p, CALCIUM_MASS, 9.3, "mg/dL", 20),
            lab("crestn-alb", p, ALBUMIN, 4.1, "g/dL", 20),
            lab("crestn-p", p, PHOSPHATE_MASS, 3.4, "mg/dL", 20),
        ],
        conditions=[condition("crestn-m341", p, ICD10, "M34.1", "CR(E)ST syndrome", onset="2026-10-30")],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def juvenile_dermatomyositis() -> Resource:
    p = "pt-jdm"
    return request(
        "juvenile-dermatomyositis",
        patient(p, "female", "2014-05-19"),
        labs=[],
        conditions=[
            condition(
                "jdm-m3300",
                p,
                ICD10,
                "M33.00",
                "Juvenile dermatomyositis, organ involvement unspecified",
                onset="2023-09-10",
            )
        ],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def sle_with_hypercalcemia() -> Resource:
    p = "pt-sle"
    return request(
        "sle-with-hypercalcemia",
        patient(p, "female", "1985-12-03"),
        labs=[
            # 11.3 + 0.8 x (4.0 - 3.9) = 11.38 mg/dL corrected: mild; no phosphate on record.
            lab("sle-ca", p, CALCIUM_MASS, 11.3, "mg/dL", 7),
            lab("sle-alb", p, ALBUMIN, 3.9, "g/dL", 7),
            lab("sle-cr", p, CREATININE, 0.7, "mg/dL", 7),
        ],
        conditions=[condition("sle-m329", p, ICD10, "M32.9", "Systemic lupus erythematosus, unspecified")],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def iv_calcium_extravasation() -> Resource:
    p = "pt-ivca"
    return request(
        "iv-calcium-extravasation",
        patient(p, "male", "1950-01-15"),
        labs=[],
        conditions=[],
        medication_requests=[],
        medication_administrations=[
            medication_administration("ivca-admin", p, "Calcium gluconate 10% 1 g in 50 mL, IV infusion", 3)
        ],
        procedures=[],
    )


def iv_calcium_old_or_oral() -> Resource:
    p = "pt-ivca-old"
    return request(
        "iv-calcium-old-or-oral",
        patient(p, "male", "1950-01-15"),
        labs=[],
        conditions=[],
        medication_requests=[
            medication_request(
                "ivca-oral", p, "Calcium gluconate 500 mg oral tablet", 2, route=ROUTE_ORAL, status="active"
            )
        ],
        medication_administrations=[
            medication_administration("ivca-old", p, "Calcium gluconate 10% 1 g in 50 mL, IV infusion", 20),
            medication_administration(
                "ivca-oral-given", p, "Calcium gluconate 500 mg oral tablet", 1, route=ROUTE_ORAL
            ),
        ],
        procedures=[],
    )


def tumoral_pattern() -> Resource:
    p = "pt-tumoral"
    return request(
        "tumoral-pattern",
        patient(p, "male", "1990-08-08"),
        labs=[
            # Corrected Ca 9.4 + 0.8 x (4.0 - 4.3) = 9.16; Ca×P = 9.16 x 5.8 = 53.1 (< 55).
            lab("tum-ca", p, CALCIUM_MASS, 9.4, "mg/dL", 5),
            lab("tum-alb", p, ALBUMIN, 4.3, "g/dL", 5),
            lab("tum-p", p, PHOSPHATE_MASS, 5.8, "mg/dL", 5),
            lab("tum-p-repeat", p, PHOSPHATE_MASS, 5.6, "mg/dL", 40),  # the confirming repeat
            lab("tum-cr", p, CREATININE, 0.9, "mg/dL", 5),
            lab("tum-pth", p, PTH_MASS, 30.0, "pg/mL", 5),
        ],
        conditions=[],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def high_phosphate_low_egfr() -> Resource:
    p = "pt-p-lowgfr"
    return request(
        "high-phosphate-low-egfr",
        patient(p, "female", "1949-03-30"),
        labs=[
            lab("plg-ca", p, CALCIUM_MASS, 9.0, "mg/dL", 5),
            lab("plg-alb", p, ALBUMIN, 4.0, "g/dL", 5),
            lab("plg-p", p, PHOSPHATE_MASS, 5.8, "mg/dL", 5),
            lab("plg-egfr", p, EGFR, 45.0, "mL/min/{1.73_m2}", 5),
            lab("plg-pth", p, PTH_MASS, 40.0, "pg/mL", 5),
            lab("plg-vitd", p, VITAMIN_D, 31.0, "ng/mL", 5),
        ],
        conditions=[],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def _calcinosis_diagnosis(cid: str, p: str) -> Resource:
    return condition(cid, p, ICD10, "L94.2", "Calcinosis cutis", onset="2026-06-01")


def known_calcinosis_no_workup() -> Resource:
    p = "pt-calcinosis"
    return request(
        "known-calcinosis-no-workup",
        patient(p, "female", "1975-10-21"),
        labs=[],
        conditions=[_calcinosis_diagnosis("cc-l942", p)],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def known_calcinosis_worked_up() -> Resource:
    p = "pt-calcinosis-done"
    return request(
        "known-calcinosis-worked-up",
        patient(p, "female", "1975-10-21"),
        labs=[
            lab("ccd-ca", p, CALCIUM_MASS, 9.5, "mg/dL", 200),
            lab("ccd-alb", p, ALBUMIN, 4.2, "g/dL", 200),
            lab("ccd-p", p, PHOSPHATE_MASS, 3.4, "mg/dL", 200),
            lab("ccd-cr", p, CREATININE, 0.7, "mg/dL", 200),
            lab("ccd-pth", p, PTH_MASS, 40.0, "pg/mL", 200),
            lab("ccd-vitd", p, VITAMIN_D, 32.0, "ng/mL", 200),
        ],
        conditions=[_calcinosis_diagnosis("ccd-l942", p)],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
    )


def dialysis_no_labs() -> Resource:
    p = "pt-dialysis-nolabs"
    return request(
        "dialysis-no-labs",
        patient(p, "male", "1960-02-29"),
        labs=[
            # Normal calcium and phosphate, but 120 days old: none in the 90-day dialysis window.
            lab("dnl-ca", p, CALCIUM_MASS, 9.4, "mg/dL", 120),
            lab("dnl-p", p, PHOSPHATE_MASS, 4.0, "mg/dL", 120),
        ],
        conditions=[dialysis_dependence("dnl-z992", p)],
        medication_requests=[],
        medication_administrations=[],
        procedures=[hemodialysis("dnl-hd", p, 3)],
    )


SCENARIOS: dict[str, Callable[[], Resource]] = {
    "normal-patient": normal_patient,
    "hypercalcemia-conventional": hypercalcemia_conventional,
    "hypercalcemia-si": hypercalcemia_si,
    "low-albumin-corrected-hypercalcemia": low_albumin_corrected_hypercalcemia,
    "normal-albumin-no-correction": normal_albumin_no_correction,
    "stale-abnormal-superseded": stale_abnormal_superseded,
    "refuted-diagnosis": refuted_diagnosis,
    "entered-in-error-lab": entered_in_error_lab,
    "hypercalcemia-with-unused-data": hypercalcemia_with_unused_data,
    "severe-hypercalcemia-critical": severe_hypercalcemia_critical,
    "ionized-hypercalcemia": ionized_hypercalcemia,
    "hyperphosphatemia-ckd-product": hyperphosphatemia_ckd_product,
    "calciphylaxis-dialysis-risk-factors": calciphylaxis_dialysis_risk_factors,
    "dialysis-no-risk-factors": dialysis_no_risk_factors,
    "dialysis-topical-steroid": dialysis_topical_steroid,
    "sarcoidosis-hypercalcemia": sarcoidosis_hypercalcemia,
    "crest-normal-labs": crest_normal_labs,
    "crest-new-diagnosis": crest_new_diagnosis,
    "juvenile-dermatomyositis": juvenile_dermatomyositis,
    "sle-with-hypercalcemia": sle_with_hypercalcemia,
    "iv-calcium-extravasation": iv_calcium_extravasation,
    "iv-calcium-old-or-oral": iv_calcium_old_or_oral,
    "tumoral-pattern": tumoral_pattern,
    "high-phosphate-low-egfr": high_phosphate_low_egfr,
    "known-calcinosis-no-workup": known_calcinosis_no_workup,
    "known-calcinosis-worked-up": known_calcinosis_worked_up,
    "dialysis-no-labs": dialysis_no_labs,
    "synthea-shaped-record": synthea_shaped_record,
    "sandbox-shaped-prefetch": sandbox_shaped_prefetch,
}


def write_requests(folder: Path = GOLDEN) -> list[Path]:
    """Write every scenario's ``<name>.request.json`` (2-space indented, trailing newline), the order
    hooks' scenarios (``tests.order_scenarios``) included."""
    from tests.order_scenarios import ORDER_SCENARIOS  # imported here: it builds on this module

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in (SCENARIOS | ORDER_SCENARIOS).items():
        path = folder / f"{name}.request.json"
        path.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_requests():
        print(written_path)
