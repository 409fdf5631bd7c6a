"""Building a ``PatientSnapshot`` from resolved prefetch JSON, in one pass over the resources.

Reads raw FHIR R4 JSON and touches only the fields the rules need. Every resource that is present but
not used lands in ``snapshot.ignored`` with a stable reason code; nothing is dropped silently, no unit is
guessed, and resources about another patient are never used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from terminology import derived
from terminology.clinical import read_condition, read_medication, read_procedure
from terminology.fhir_dates import parse_date
from terminology.fhir_json import JsonObject, resources_in
from terminology.knowledge import Knowledge
from terminology.observations import read_lab
from terminology.snapshot import (
    ConditionRecord,
    Ignored,
    LabResult,
    MedicationRecord,
    PatientSnapshot,
    ProcedureRecord,
)

NEWEST_FIRST_KEY = attrgetter("effective", "resource_id")
ADMINISTRATIVE_SEX = frozenset({"male", "female", "other", "unknown"})
Record = ConditionRecord | ProcedureRecord | MedicationRecord
CLINICAL_READERS: dict[str, Callable[[JsonObject, Knowledge], Record | Ignored | None]] = {
    "Condition": read_condition,
    "Procedure": read_procedure,
    "MedicationRequest": read_medication,
    "MedicationAdministration": read_medication,
}


def _newest_first(results: Iterable[LabResult]) -> tuple[LabResult, ...]:
    return tuple(sorted(results, key=NEWEST_FIRST_KEY, reverse=True))


class _Builder:
    """Accumulates one snapshot; one instance per build, never shared."""

    def __init__(self, patient_id: str, knowledge: Knowledge, as_of: datetime) -> None:
        self.patient_id = patient_id
        self.knowledge = knowledge
        self.as_of = as_of
        self.subject_ref = f"Patient/{patient_id}"
        self.birth_date: date | None = None
        self.sex: str | None = None
        self.labs: dict[str, list[LabResult]] = {}
        self.records: dict[type, list[Any]] = {ConditionRecord: [], ProcedureRecord: [], MedicationRecord: []}
        self.ignored: list[Ignored] = []

    def is_about_patient(self, resource: JsonObject) -> bool:
        subject = resource.get("subject")
        reference = subject.get("reference") if isinstance(subject, dict) else None
        # Relative ("Patient/1") or absolute ("https://ehr/fhir/Patient/1") literal references.
        return isinstance(reference, str) and (
            reference == self.subject_ref or reference.endswith("/" + self.subject_ref)
        )

    def add(self, resource: JsonObject) -> None:
        kind = resource.get("resourceType")
        if kind == "Observation":
            result = read_lab(resource, self.knowledge, self.is_about_patient(resource))
            if isinstance(result, LabResult):
                self.labs.setdefault(result.analyte, []).append(result)
            else:
                self.ignored.append(result)
        elif kind == "Patient":
            self.add_patient(resource)
        elif isinstance(kind, str) and kind in CLINICAL_READERS:
            self.add_clinical(resource, CLINICAL_READERS[kind])

    def add_clinical(
        self, resource: JsonObject, reader: Callable[[JsonObject, Knowledge], Record | Ignored | None]
    ) -> None:
        record = reader(resource, self.knowledge)
        if record is None:
            return
        if isinstance(record, Ignored):
            self.ignored.append(record)
        elif not self.is_about_patient(resource):
            kind = str(resource.get("resourceType"))
            self.ignored.append(
                Ignored(kind, str(resource.get("id", "")), "subject-mismatch", "not the patient in context")
            )
        else:
            self.records[type(record)].append(record)

    def add_patient(self, patient: JsonObject) -> None:
        if patient.get("id") != self.patient_id:
            self.ignored.append(
                Ignored(
                    "Patient", str(patient.get("id", "")), "subject-mismatch", "not the patient in context"
                )
            )
            return
        gender = patient.get("gender")
        self.sex = gender if gender in ADMINISTRATIVE_SEX else None
        birth = patient.get("birthDate")
        if isinstance(birth, str):
            try:
                self.birth_date = parse_date(birth)
            except ValueError as exc:
                self.ignored.append(Ignored("Patient", self.patient_id, "birthdate-unusable", str(exc)))

    def snapshot(self) -> PatientSnapshot:
        labs = {name: _newest_first(results) for name, results in self.labs.items()}
        constants = self.knowledge.derivation
        self.merge(labs, derived.corrected_calcium(labs, constants["correctedCalcium"]))
        self.merge(labs, derived.calcium_phosphate_product(labs))
        egfr, not_derivable = derived.computed_egfr(labs, self.birth_date, self.sex, constants["ckdEpi2021"])
        self.merge(labs, egfr)
        self.ignored.extend(not_derivable)
        conditions = tuple(self.records[ConditionRecord])
        procedures = tuple(self.records[ProcedureRecord])
        return PatientSnapshot(
            patient_id=self.patient_id,
            as_of=self.as_of,
            birth_date=self.birth_date,
            sex=self.sex,
            labs=labs,
            conditions=conditions,
            procedures=procedures,
            medications=tuple(self.records[MedicationRecord]),
            ckd=derived.ckd_staging(conditions, labs.get("egfr", ()), self.knowledge),
            dialysis=derived.dialysis_evidence(conditions, procedures, self.as_of, self.knowledge),
            ignored=tuple(self.ignored),
        )

    @staticmethod
    def merge(labs: dict[str, tuple[LabResult, ...]], extra: list[LabResult]) -> None:
        """Add derived results to their series, each series re-sorted once (linear in the results)."""
        grouped: dict[str, list[LabResult]] = {}
        for result in extra:
            grouped.setdefault(result.analyte, []).append(result)
        for name, results in grouped.items():
            labs[name] = _newest_first([*labs.get(name, ()), *results])


def build_snapshot(
    patient_id: str, prefetch_values: Iterable[Any], knowledge: Knowledge, as_of: datetime
) -> PatientSnapshot:
    """The snapshot of ``patient_id`` as of ``as_of`` from resolved prefetch values (resources or Bundles)."""
    builder = _Builder(patient_id, knowledge, as_of)
    for value in prefetch_values:
        for resource in resources_in(value):
            builder.add(resource)
    return builder.snapshot()
