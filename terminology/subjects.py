"""Whose record a resource is: only references that certainly name the patient in context count.

FHIR R4 § References (http://hl7.org/fhir/R4/references.html#literal): a literal reference is relative
(``Patient/p1``, resolved against the server the data came from), absolute (``https://ehr/fhir/Patient/p1``)
or a ``urn:uuid:`` that a Bundle resolves through an entry's ``fullUrl`` (§ Bundle, resolving references).
A reference that merely *ends* in ``Patient/p1`` (``http://other.example/fhir/Patient/p1``,
``Group/9/Patient/p1``, ``urn:x/Patient/p1``) names a resource on another server, or nothing: using it would
put another person's results on this chart. So exactly three forms count: ``Patient/{id}``, the same made
absolute against the request's own ``fhirServer``, and a ``urn:uuid`` that the same Bundle resolves to the
Patient resource with that id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from terminology.fhir_json import JsonObject, as_list

URN_UUID = "urn:uuid:"


def _bundle_patient_urns(bundle: JsonObject, patient_id: str) -> set[str]:
    """``urn:uuid`` fullUrls of the Bundle's entries that hold the Patient ``patient_id``."""
    urns = set()
    for entry in as_list(bundle.get("entry")):
        if not isinstance(entry, dict):
            continue
        full_url, resource = entry.get("fullUrl"), entry.get("resource")
        if (
            isinstance(full_url, str)
            and full_url.startswith(URN_UUID)
            and isinstance(resource, dict)
            and resource.get("resourceType") == "Patient"
            and resource.get("id") == patient_id
        ):
            urns.add(full_url)
    return urns


@dataclass(frozen=True, slots=True)
class PatientReferences:
    """The reference strings that name the patient in context, for one prefetch value."""

    patient_id: str
    accepted: frozenset[str]

    def names_patient(self, resource: JsonObject) -> bool:
        """Whether ``resource.subject`` certainly refers to the patient in context."""
        subject = resource.get("subject")
        reference = subject.get("reference") if isinstance(subject, dict) else None
        return isinstance(reference, str) and reference in self.accepted

    def about_someone_else(self, value: Any) -> bool:
        """Whether a prefetch value is about another patient and not about this one at all.

        A Patient that is not this patient; or a Bundle in which nothing names this patient while at least
        one entry names somebody (resources without a subject, and empty Bundles, say nothing either way).
        """
        if not isinstance(value, dict):
            return False
        kind = value.get("resourceType")
        if kind == "Patient":
            return value.get("id") != self.patient_id
        if kind != "Bundle":
            return "subject" in value and not self.names_patient(value)
        someone = False
        for entry in as_list(value.get("entry")):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            if resource.get("resourceType") == "Patient":
                if resource.get("id") == self.patient_id:
                    return False
                someone = True
            elif "subject" in resource:
                if self.names_patient(resource):
                    return False
                someone = True
        return someone


def patient_references(patient_id: str, fhir_server: str | None, value: Any) -> PatientReferences:
    """The references that name ``patient_id`` inside one prefetch value (a resource or a Bundle)."""
    relative = f"Patient/{patient_id}"
    accepted = {relative}
    if fhir_server:
        accepted.add(f"{fhir_server.rstrip('/')}/{relative}")
    if isinstance(value, dict) and value.get("resourceType") == "Bundle":
        accepted |= _bundle_patient_urns(value, patient_id)
    return PatientReferences(patient_id, frozenset(accepted))
