"""Building a ``PatientSnapshot`` from resolved prefetch JSON, in one pass over the resources.

Reads raw FHIR R4 JSON and touches only the fields the rules need. Every resource that is present but
not used lands in ``snapshot.ignored`` with a stable reason code; nothing is dropped silently, no unit is
guessed, and resources about another patient are never used (``terminology.subjects``). Building is total:
a resource a reader cannot take is listed as not used (``unreadable``), so one bad record never costs the
patient's other results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import Any

from terminology import derived, kidney
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
from terminology.subjects import PatientReferences, patient_references

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

    def __init__(
        self, patient_id: str, knowledge: Knowledge, as_of: datetime, fhir_server: str | None
    ) -> None:
        self.patient_id = patient_id
        self.fhir_server = fhir_server
        self.knowledge = knowledge
        self.as_of = as_of
        tolerance = knowledge.derivation["futureDateToleranceHours"]["value"]
        self.latest_allowed = as_of + timedelta(hours=tolerance)
        self.birth_date: date | None = None
        self.sex: str | None = None
        self.deceased = False
        self.labs: dict[str, list[LabResult]] = {}
        self.records: dict[type, list[Any]] = {ConditionRecord: [], ProcedureRecord: [], MedicationRecord: []}
        self.ignored: list[Ignored] = []

    def add_value(self, value: Any) -> None:
        """Every resource of one prefetch value, each read on its own (see ``add_safely``)."""
        references = patient_references(self.patient_id, self.fhir_server, value)
        for resource in resources_in(value):
            self.add_safely(resource, references)

    def add_safely(self, resource: JsonObject, references: PatientReferences) -> None:
        """Read one resource; a reader that fails on it costs that resource only, listed as unreadable."""
        try:
            self.add(resource, references)
        except Exception as exc:  # noqa: BLE001 - one bad record must not cost the others; it is listed
            kind, ident = str(resource.get("resourceType")), str(resource.get("id", ""))
            self.ignored.append(
                Ignored(kind, ident, "unreadable", f"could not be read ({type(exc).__name__})")
            )

    def add(self, resource: JsonObject, references: PatientReferences) -> None:
        kind = resource.get("resourceType")
        if kind == "Observation":
            about = references.names_patient(resource)
            result = read_lab(resource, self.knowledge, about, self.latest_allowed)
            if isinstance(result, LabResult):
                self.labs.setdefault(result.analyte, []).append(result)
            else:
                self.ignored.append(result)
        elif kind == "Patient":
            self.add_patient(resource)
        elif isinstance(kind, str) and kind in CLINICAL_READERS:
            self.add_clinical(resource, CLINICAL_READERS[kind], references)

    def add_clinical(
        self,
        resource: JsonObject,
        reader: Callable[[JsonObject, Knowledge], Record | Ignored | None],
        references: PatientReferences,
    ) -> None:
        record = reader(resource, self.knowledge)
        if record is None:
            return
        if isinstance(record, Ignored):
            self.ignored.append(record)
        elif not references.names_patient(resource):
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
        # R4 Patient.deceased[x]: true, or a date of death, means the chart is of a deceased patient.
        self.deceased = patient.get("deceasedBoolean") is True or isinstance(
            patient.get("deceasedDateTime"), str
        )
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
            deceased=self.deceased,
            labs=labs,
            conditions=conditions,
            procedures=procedures,
            medications=tuple(self.records[MedicationRecord]),
            ckd=kidney.ckd_staging(conditions, labs.get("egfr", ()), self.as_of, self.knowledge),
            dialysis=kidney.dialysis_evidence(conditions, procedures, self.as_of, self.knowledge),
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
    patient_id: str,
    prefetch_values: Iterable[Any],
    knowledge: Knowledge,
    as_of: datetime,
    fhir_server: str | None = None,
) -> PatientSnapshot:
    """The snapshot of ``patient_id`` as of ``as_of`` from resolved prefetch values (resources or Bundles).

    ``fhir_server`` is the request's FHIR base: absolute references against it name the patient too.
    """
    builder = _Builder(patient_id, knowledge, as_of, fhir_server)
    for value in prefetch_values:
        builder.add_value(value)
    return builder.snapshot()
