"""FHIR R4 search strings derived from the value sets, for prefetch templates.

Declaring a lab query by value set (not by pasting codes) keeps one source of truth: add a code to a
ValueSet file and discovery, prefetch and the snapshot all follow. Token search syntax ``system|code`` with
comma for OR: http://hl7.org/fhir/R4/search.html#token.
"""

from __future__ import annotations

from terminology.knowledge import Knowledge

PATIENT_ID_PLACEHOLDER = "{{context.patientId}}"


def observations_by_value_sets(knowledge: Knowledge, value_set_urls: list[str]) -> str:
    """``Observation?patient=...&code=s|c,s|c&_sort=-date`` for every code of the given value sets."""
    tokens = [f"{system}|{code}" for url in value_set_urls for system, code in knowledge.codes_of(url)]
    return f"Observation?patient={PATIENT_ID_PLACEHOLDER}&code={','.join(tokens)}&_sort=-date"


def by_patient(resource_type: str) -> str:
    """All resources of ``resource_type`` for the patient in context."""
    return f"{resource_type}?patient={PATIENT_ID_PLACEHOLDER}"


def patient_read() -> str:
    return f"Patient/{PATIENT_ID_PLACEHOLDER}"
