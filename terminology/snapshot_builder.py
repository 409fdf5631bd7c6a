"""Building a ``PatientSnapshot`` from resolved prefetch JSON.

Reads raw FHIR R4 JSON and touches only the fields the rules need (R4 Observation:
http://hl7.org/fhir/R4/observation.html). Every resource that is present but not used lands in
``snapshot.ignored`` with a stable reason code; nothing is dropped silently and no unit is guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from terminology.fhir_dates import ImpreciseDateError, parse_date, parse_datetime
from terminology.knowledge import Knowledge
from terminology.snapshot import Ignored, LabResult, PatientSnapshot
from terminology.units import UnitError, convert

# R4 ObservationStatus: only these carry a result a clinician may act on.
USABLE_OBSERVATION_STATUS = frozenset({"final", "amended", "corrected"})
ADMINISTRATIVE_SEX = frozenset({"male", "female", "other", "unknown"})

JsonObject = dict[str, Any]


def resources_in(value: Any) -> Iterator[JsonObject]:
    """The resources of one prefetch value: a single resource, or the entries of a Bundle."""
    if not isinstance(value, dict):
        return
    if value.get("resourceType") == "Bundle":
        for entry in value.get("entry") or ():
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
                yield resource
    elif "resourceType" in value:
        yield value


class _Builder:
    """Accumulates one snapshot; one instance per build, never shared."""

    def __init__(self, patient_id: str, knowledge: Knowledge) -> None:
        self.patient_id = patient_id
        self.knowledge = knowledge
        self.subject_ref = f"Patient/{patient_id}"
        self.birth_date: date | None = None
        self.sex: str | None = None
        self.labs: dict[str, list[LabResult]] = {}
        self.ignored: list[Ignored] = []

    def ignore(self, resource: Mapping[str, Any], reason: str, detail: str, analyte: str = "") -> None:
        kind, ident = str(resource.get("resourceType")), str(resource.get("id", ""))
        self.ignored.append(Ignored(kind, ident, reason, detail, analyte))

    def add(self, resource: JsonObject) -> None:
        kind = resource.get("resourceType")
        if kind == "Patient":
            self.add_patient(resource)
        elif kind == "Observation":
            self.add_observation(resource)

    def add_patient(self, patient: JsonObject) -> None:
        if patient.get("id") != self.patient_id:
            self.ignore(patient, "subject-mismatch", "Patient resource is not the patient in context")
            return
        gender = patient.get("gender")
        self.sex = gender if gender in ADMINISTRATIVE_SEX else None
        birth = patient.get("birthDate")
        if isinstance(birth, str):
            try:
                self.birth_date = parse_date(birth)
            except ValueError as exc:
                self.ignore(patient, "birthdate-unusable", str(exc))

    def is_about_patient(self, resource: JsonObject) -> bool:
        subject = resource.get("subject")
        reference = subject.get("reference") if isinstance(subject, dict) else None
        if not isinstance(reference, str):
            return False
        # Relative ("Patient/1") or absolute ("https://ehr/fhir/Patient/1") literal references.
        return reference == self.subject_ref or reference.endswith("/" + self.subject_ref)

    def analyte_of(self, observation: JsonObject) -> tuple[str, JsonObject] | None:
        code = observation.get("code")
        for coding in (code.get("coding") or ()) if isinstance(code, dict) else ():
            if isinstance(coding, dict):
                analyte = self.knowledge.analyte_by_code.get(
                    (coding.get("system", ""), coding.get("code", ""))
                )
                if analyte:
                    return analyte, coding
        return None

    def add_observation(self, obs: JsonObject) -> None:
        found = self.analyte_of(obs)
        if found is None:
            self.ignore(obs, "code-unknown", "no coding is in a value set we read")
            return
        analyte_name, coding = found
        problem = self.observation_problem(obs)
        if problem is not None:
            self.ignore(obs, *problem, analyte=analyte_name)
            return
        quantity: JsonObject = obs["valueQuantity"]
        try:
            effective = parse_datetime(_effective_text(obs))
            converted = convert(
                self.knowledge,
                self.knowledge.analytes[analyte_name],
                float(quantity["value"]),
                quantity.get("system"),
                quantity.get("code"),
                quantity.get("unit"),
            )
        except ImpreciseDateError as exc:
            self.ignore(obs, "date-imprecise", str(exc), analyte_name)
            return
        except UnitError as exc:
            self.ignore(obs, exc.reason, str(exc), analyte_name)
            return
        except ValueError as exc:
            self.ignore(obs, "date-invalid", str(exc), analyte_name)
            return
        self.labs.setdefault(analyte_name, []).append(
            LabResult(
                analyte=analyte_name,
                value=converted.value,
                unit=converted.unit,
                reported_value=float(quantity["value"]),
                reported_unit=str(quantity.get("unit") or converted.source_unit),
                effective=effective,
                resource_id=str(obs.get("id", "")),
                code=str(coding.get("code")),
                display=str(coding.get("display") or coding.get("code")),
            )
        )

    def observation_problem(self, obs: JsonObject) -> tuple[str, str] | None:
        """Why an Observation of a known analyte cannot be used, as (reason code, detail), or None."""
        status = obs.get("status")
        if status not in USABLE_OBSERVATION_STATUS:
            return "status-unusable", f"status {status!r}"
        if not self.is_about_patient(obs):
            return "subject-mismatch", "subject is not the patient in context"
        if "dataAbsentReason" in obs:
            return "data-absent", "dataAbsentReason is set"
        quantity = obs.get("valueQuantity")
        value = quantity.get("value") if isinstance(quantity, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
            return "value-not-numeric", "no numeric valueQuantity"
        comparator = quantity.get("comparator") if isinstance(quantity, dict) else None
        if comparator:
            return "value-has-comparator", f"comparator {comparator!r} is not read yet"
        if not _effective_text(obs):
            return "date-missing", "no effective date"
        return None

    def snapshot(self) -> PatientSnapshot:
        labs = {
            name: tuple(sorted(results, key=lambda r: (r.effective, r.resource_id), reverse=True))
            for name, results in self.labs.items()
        }
        return PatientSnapshot(self.patient_id, self.birth_date, self.sex, labs, tuple(self.ignored))


def _effective_text(obs: JsonObject) -> str:
    period = obs.get("effectivePeriod")
    start = period.get("start") if isinstance(period, dict) else None
    for candidate in (obs.get("effectiveDateTime"), obs.get("effectiveInstant"), start, obs.get("issued")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return ""


def build_snapshot(patient_id: str, prefetch_values: Iterable[Any], knowledge: Knowledge) -> PatientSnapshot:
    """The snapshot of ``patient_id`` from resolved prefetch values (resources or Bundles)."""
    builder = _Builder(patient_id, knowledge)
    for value in prefetch_values:
        for resource in resources_in(value):
            builder.add(resource)
    return builder.snapshot()
