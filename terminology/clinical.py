"""Reading Conditions, Procedures and medication orders/administrations into snapshot records.

Conditions (http://hl7.org/fhir/R4/condition.html): refuted or entered-in-error diagnoses are ignored
with a reason; clinical status is kept so rules count only active/recurrence/relapse. Medications
(MedicationRequest, MedicationAdministration) are matched to categories by verified RxNorm ingredient
codes, else by the text terms of ``data/medication_text.json`` on the medication's text/display; the
route (intravenous or not) comes from the dosage route, never from the drug name. Only when no route is
given does the dose form count: an "Injectable Solution" of a salt whose injectables are intravenous-only
(IV calcium and phosphate salts, ``doseForms`` in medication_text.json) is intravenous, since a calcium
chloride or gluconate injection is not oral; for other drugs (e.g. an injectable corticosteroid, given IM or
into a joint) a route-less injectable stays ``None``.
"""

from __future__ import annotations

from typing import Any

from terminology.fhir_json import (
    JsonObject,
    as_list,
    coding_keys,
    codings,
    concept_text,
    concept_texts,
    first_text,
    optional_date,
    optional_datetime,
    period_start,
    status_code,
)
from terminology.knowledge import Knowledge
from terminology.snapshot import ConditionRecord, Ignored, MedicationRecord, ProcedureRecord
from terminology.text_terms import LOCAL_ROUTE, PARENTERAL_FORM

IGNORED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
IGNORED_REQUEST_STATUS = frozenset({"entered-in-error", "cancelled"})
IGNORED_ADMINISTRATION_STATUS = frozenset({"entered-in-error", "not-done"})
IGNORED_PROCEDURE_STATUS = frozenset({"entered-in-error", "not-done", "preparation"})
ROUTE_CONCEPT = "route-intravenous"
NOT_MEDICATIONS = frozenset({ROUTE_CONCEPT, LOCAL_ROUTE, PARENTERAL_FORM})  # text matchers that name no drug


def _ignored(resource: JsonObject, reason: str, detail: str) -> Ignored:
    return Ignored(str(resource.get("resourceType")), str(resource.get("id", "")), reason, detail)


def _first_coding(
    concept: Any, wanted: frozenset[str], knowledge: Knowledge, family: str
) -> tuple[str, str, str]:
    """(system, code, display) of the coding that matched, for the evidence table."""
    for coding in codings(concept):
        key = (str(coding.get("system", "")), str(coding.get("code", "")))
        if knowledge.concepts_of(family, [key]) & wanted:
            return key[0], key[1], str(coding.get("display") or concept_text(concept) or key[1])
    return "", "", concept_text(concept)


def read_condition(condition: JsonObject, knowledge: Knowledge) -> ConditionRecord | Ignored | None:
    """The record of a Condition we have a concept for; None when it is of no concern to us."""
    keys = coding_keys(condition.get("code"))
    concepts = knowledge.concepts_of("condition", keys)
    if not concepts:
        if any(k in knowledge.unverified for k in keys):
            return _ignored(condition, "code-unverified", "condition code is not verified yet")
        return None
    verification = status_code(condition.get("verificationStatus"))
    if verification in IGNORED_VERIFICATION:
        return _ignored(condition, f"condition-{verification}", f"verificationStatus {verification}")
    system, code, display = _first_coding(condition.get("code"), concepts, knowledge, "condition")
    onset = first_text(condition.get("onsetDateTime"), period_start(condition.get("onsetPeriod")))
    return ConditionRecord(
        concepts=concepts,
        resource_id=str(condition.get("id", "")),
        system=system,
        code=code,
        display=display,
        clinical_status=status_code(condition.get("clinicalStatus")),
        verification_status=verification,
        onset=optional_date(onset),
        recorded=optional_date(first_text(condition.get("recordedDate"))),
        abated=any(key.startswith("abatement") for key in condition),
    )


def read_procedure(procedure: JsonObject, knowledge: Knowledge) -> ProcedureRecord | Ignored | None:
    concepts = knowledge.concepts_of("procedure", coding_keys(procedure.get("code")))
    if not concepts:
        return None
    status = str(procedure.get("status", ""))
    if status in IGNORED_PROCEDURE_STATUS:
        return _ignored(procedure, "status-unusable", f"status {status!r}")
    _, code, display = _first_coding(procedure.get("code"), concepts, knowledge, "procedure")
    performed = first_text(procedure.get("performedDateTime"), period_start(procedure.get("performedPeriod")))
    return ProcedureRecord(
        concepts, str(procedure.get("id", "")), code, display, status, optional_datetime(performed)
    )


def _medication_concept(resource: JsonObject) -> tuple[Any, list[str]]:
    """The medication CodeableConcept and its texts (a reference's display when not coded inline)."""
    concept = resource.get("medicationCodeableConcept")
    if concept is not None:
        return concept, concept_texts(concept)
    reference = resource.get("medicationReference")
    display = reference.get("display") if isinstance(reference, dict) else None
    return None, [display] if isinstance(display, str) else []


def _routes(resource: JsonObject) -> list[Any]:
    if resource.get("resourceType") == "MedicationAdministration":
        dosage = resource.get("dosage")
        return [dosage.get("route")] if isinstance(dosage, dict) else []
    return [d.get("route") for d in as_list(resource.get("dosageInstruction")) if isinstance(d, dict)]


def _intravenous(
    resource: JsonObject, texts: list[str], categories: frozenset[str], knowledge: Knowledge
) -> bool | None:
    routes = [r for r in _routes(resource) if isinstance(r, dict)]
    if not routes:
        if categories & knowledge.injectable_means_intravenous and any(
            PARENTERAL_FORM in knowledge.text_concepts(text) for text in texts
        ):
            return True
        return None
    for route in routes:
        if ROUTE_CONCEPT in knowledge.concepts_of("route", coding_keys(route)):
            return True
        if any(ROUTE_CONCEPT in knowledge.text_concepts(text) for text in concept_texts(route)):
            return True
    return False


def _local(resource: JsonObject, texts: list[str], knowledge: Knowledge) -> bool:
    """Whether the route or the dose form named in the medication text is local (topical, inhaled...)."""
    route_texts = [t for route in _routes(resource) for t in concept_texts(route)]
    return any(LOCAL_ROUTE in knowledge.text_concepts(text) for text in (*route_texts, *texts))


def read_medication(resource: JsonObject, knowledge: Knowledge) -> MedicationRecord | Ignored | None:
    kind = str(resource.get("resourceType"))
    concept, texts = _medication_concept(resource)
    categories = knowledge.concepts_of("medication", coding_keys(concept))
    matched_by = "code"
    if not categories:
        categories = frozenset().union(*map(knowledge.text_concepts, texts)) - NOT_MEDICATIONS
        matched_by = "text"
    if not categories:
        return None
    status = str(resource.get("status", ""))
    ignored_status = IGNORED_REQUEST_STATUS if kind == "MedicationRequest" else IGNORED_ADMINISTRATION_STATUS
    if status in ignored_status:
        return _ignored(resource, "status-unusable", f"status {status!r}")
    when = first_text(
        resource.get("authoredOn"),
        resource.get("effectiveDateTime"),
        period_start(resource.get("effectivePeriod")),
    )
    return MedicationRecord(
        categories=categories,
        resource_type=kind,
        resource_id=str(resource.get("id", "")),
        display=texts[0] if texts else "",
        status=status,
        when=optional_datetime(when),
        intravenous=_intravenous(resource, texts, categories, knowledge),
        matched_by=matched_by,
        local=_local(resource, texts, knowledge),
    )
