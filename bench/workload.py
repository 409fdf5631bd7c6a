"""The benchmark's patients: Synthea-shaped lab Observations in a realistic mix of codes, units and dates.

Each Observation has the fields a Synthea or EHR export carries (uuid id, category, coded LOINC with
display and text, subject, encounter, effective and issued times, UCUM quantity, a meta tag), about 800
bytes of JSON like the real records in ``tests/data/fhir/synthea``. The mix covers every analyte the
service reads, in both unit systems, mostly in reference range, with a few results the service must
ignore (preliminary, text-only unit, a code outside the value sets) - as in a real chart. Seeded, so two
runs send the same bytes.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from service import demo
from terminology.knowledge import Knowledge
from tests import fhir_data as fd

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PATIENT_ID = "bench-patient"
CARD_PATIENT = "demo-calciphylaxis"
SPAN_DAYS = 6 * 365  # results spread over six years of follow-up
# (LOINC code, display, UCUM unit, low, high, relative frequency): analytes the service reads.
LABS = [
    ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 8.6, 10.2, 8),
    ("2000-8", "Calcium [Moles/volume] in Serum or Plasma", "mmol/L", 2.15, 2.55, 4),
    ("49765-1", "Calcium [Mass/volume] in Blood", "mg/dL", 8.6, 10.2, 2),
    ("1995-0", "Calcium.ionized [Moles/volume] in Serum or Plasma", "mmol/L", 1.12, 1.32, 2),
    ("2777-1", "Phosphate [Mass/volume] in Serum or Plasma", "mg/dL", 2.5, 4.5, 6),
    ("14879-1", "Phosphate [Moles/volume] in Serum or Plasma", "mmol/L", 0.81, 1.45, 3),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 3.5, 5.0, 5),
    ("61151-7", "Albumin [Mass/volume] in Serum or Plasma by Bromocresol green (BCG) dye", "g/L", 35, 50, 2),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.1, 6),
    ("14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "umol/L", 53, 97, 3),
    (
        "98979-8",
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] (CKD-EPI 2021)",
        "mL/min/{1.73_m2}",
        65,
        110,
        4,
    ),
    ("2731-8", "Parathyrin.intact [Mass/volume] in Serum or Plasma", "pg/mL", 15, 65, 2),
    ("14866-8", "Parathyrin.intact [Moles/volume] in Serum or Plasma", "pmol/L", 1.6, 6.9, 1),
    ("1989-3", "Calcifediol [Mass/volume] in Serum or Plasma", "ng/mL", 30, 60, 1),
    ("14635-7", "Calcifediol [Moles/volume] in Serum or Plasma", "nmol/L", 75, 150, 1),
    ("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 44, 147, 2),
]
# Results a real chart holds that the service must report as ignored, never use (~3% each).
PRELIMINARY_RATE = 0.03
TEXT_UNIT_RATE = 0.03  # unit as free text only (no UCUM system/code): "mg/dl" must be read, not guessed
OTHER_CODE_RATE = 0.02  # a code outside our value sets (an EHR may send more than the query asked)
OTHER_CODE = ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70.0, 99.0)
CONDITIONS = [("59621000", "Essential hypertension"), ("55822004", "Hyperlipidemia")]
MEDICATIONS = [("314076", "lisinopril 10 MG Oral Tablet"), ("617312", "atorvastatin 20 MG Oral Tablet")]


def check_codes(knowledge: Knowledge) -> None:
    """Fail loudly if the mix names a code the service does not read: the benchmark would measure less."""
    unknown = [code for code, *_ in LABS if (LOINC, code) not in knowledge.analyte_by_code]
    if unknown:
        raise SystemExit(f"bench: codes not in the service's value sets: {unknown}")


def _observation(rng: random.Random, index: int, patient_id: str) -> dict[str, Any]:
    roll = rng.random()
    if roll < OTHER_CODE_RATE:
        code, display, unit, low, high = OTHER_CODE
    else:
        code, display, unit, low, high, _ = rng.choices(LABS, weights=[lab[5] for lab in LABS])[0]
    effective = NOW - timedelta(days=rng.uniform(0, SPAN_DAYS), seconds=index)
    quantity: dict[str, Any] = {"value": round(rng.uniform(low, high), 2), "unit": unit}
    if rng.random() >= TEXT_UNIT_RATE:
        quantity |= {"system": UCUM, "code": unit}
    else:
        quantity["unit"] = unit.lower()
    return {
        "resourceType": "Observation",
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "meta": {"tag": [{"system": "https://smarthealthit.org/tags", "code": "synthea-5-2019"}]},
        "status": "preliminary" if rng.random() < PRELIMINARY_RATE else "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                        "display": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
        "subject": {"reference": f"Patient/{patient_id}"},
        "encounter": {"reference": f"Encounter/{uuid.UUID(int=rng.getrandbits(128), version=4)}"},
        "effectiveDateTime": effective.isoformat(timespec="seconds"),
        "issued": (effective + timedelta(hours=2)).isoformat(timespec="milliseconds"),
        "valueQuantity": quantity,
    }


def observations(count: int, seed: int = 20261121, patient_id: str = PATIENT_ID) -> list[dict[str, Any]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible benchmark data, not cryptography
    return [_observation(rng, i, patient_id) for i in range(count)]


def card_chart(count: int, now: datetime) -> dict[str, Any]:
    """The prefetch of a chart that draws two cards, with ``count`` lab Observations in all.

    The demo dialysis patient (``demo-calciphylaxis``: haemodialysis, diabetes, warfarin, low albumin, high
    phosphate: a calciphylaxis warning) given the IV calcium infusion of ``demo-iv-calcium`` three days ago
    (an extravasation info card), her five demo labs and ``count - 5`` Synthea-shaped ones from years
    before. Neither card is critical, so every call makes the suppression read and records two cards.
    Dates are computed from ``now`` (the demo's are relative), so the cards stay current.
    """
    chart = demo.prefetch(demo.bundle(CARD_PATIENT, now))
    infusion = next(
        entry["resource"]
        for entry in demo.bundle("demo-iv-calcium", now)["entry"]
        if entry["resource"]["resourceType"] == "MedicationAdministration"
    )
    infusion["subject"] = {"reference": f"Patient/{CARD_PATIENT}"}
    chart["medicationAdministrations"]["entry"].append({"resource": infusion, "search": {"mode": "match"}})
    labs = chart["labs"]["entry"]
    padding = observations(max(0, count - len(labs)), patient_id=CARD_PATIENT)
    labs += [{"resource": lab, "search": {"mode": "match"}} for lab in padding]
    return chart


def patient() -> dict[str, Any]:
    return {"resourceType": "Patient", "id": PATIENT_ID, "gender": "female", "birthDate": "1958-03-14"}


def hook_request(
    prefetch: dict[str, Any] | None, fhir_server: str | None, token: str | None, patient_id: str = PATIENT_ID
) -> bytes:
    """A patient-view call as JSON bytes (encoded once: the client's encoding is not what we measure)."""
    body = fd.request_body(pid=patient_id, prefetch=prefetch, fhir_server=fhir_server, token=token)
    return orjson.dumps(body)


def _condition(index: int, code: str, display: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"bench-condition-{index}",
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "code": {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "onsetDateTime": "2015-06-01T00:00:00+00:00",
    }


def _medication(index: int, code: str, display: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": f"bench-medication-{index}",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "authoredOn": "2024-01-15",
    }


def clinical() -> dict[str, list[dict[str, Any]]]:
    """A few everyday problems and drugs, none of them a calcinosis risk: read, matched, not used."""
    return {
        "conditions": [_condition(i, *c) for i, c in enumerate(CONDITIONS)],
        "medicationRequests": [_medication(i, *m) for i, m in enumerate(MEDICATIONS)],
        "medicationAdministrations": [],
        "procedures": [],
    }


def full_prefetch(labs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every key the service declares, as an EHR that honours the templates would send it."""
    return {
        "patient": patient(),
        "labs": fd.bundle(labs),
        **{key: fd.bundle(resources) for key, resources in clinical().items()},
    }
