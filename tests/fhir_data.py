"""Small builders of FHIR R4 JSON for tests: a patient and lab Observations in any unit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from service.api.hooks import hook_call

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
# Test data names LOINC codes directly: tests/ may, rule code may not (see test_knowledge_as_data).
CALCIUM_MASS = "17861-6"
CALCIUM_MOLAR = "2000-8"
CALCIUM_BLOOD = "49765-1"
PHOSPHATE_MASS = "2777-1"
PHOSPHATE_MOLAR = "14879-1"

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def patient(pid: str = "p1", gender: str = "female", birth: str = "1960-04-02") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": birth}


def lab(
    code: str,
    value: float,
    unit: str,
    *,
    pid: str = "p1",
    days_ago: float = 1,
    status: str = "final",
    ucum: bool = True,
    oid: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "unit": unit}
    if ucum:
        quantity |= {"system": UCUM, "code": unit}
    return {
        "resourceType": "Observation",
        "id": oid or f"obs-{uuid.uuid4().hex[:12]}",
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
        "code": {"coding": [{"system": LOINC, "code": code, "display": f"LOINC {code}"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": (NOW - timedelta(days=days_ago)).isoformat(),
        "valueQuantity": quantity,
        **extra,
    }


def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


def request_body(
    *,
    pid: str = "p1",
    prefetch: dict[str, Any] | None = None,
    fhir_server: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    return hook_call(
        "patient-view",
        pid,
        user="Practitioner/example",
        fhir_server=fhir_server,
        token=token,
        prefetch=prefetch,
    )


EMPTY_KEYS = ("conditions", "medicationRequests", "medicationAdministrations", "procedures")


def full_prefetch(pid: str, labs: list[dict[str, Any]], **patient_fields: Any) -> dict[str, Any]:
    """Every declared key present: the patient, the labs, and empty Bundles for the rest."""
    return {
        "patient": patient(pid, **patient_fields),
        "labs": bundle(labs),
        **{key: bundle([]) for key in EMPTY_KEYS},
    }
