"""The FHIR R4 elements the snapshot reads, as a schema a JSON decoder can filter with.

A chart's resources are mostly elements no rule reads (``meta``, ``text`` narrative, ``encounter``,
``category``, ``performer``, ``identifier``, extensions...). Decoding them costs time and memory for nothing,
so the service's decoder (``service.api.decode``) keeps only the top-level elements named here, for every
resource type at once, plus the Bundle structure around them. Each kept element is decoded whole (``Any``):
the tolerant readers in this package still see exactly what the sender wrote and report junk as before.

A reader that starts reading another element must add it here; ``tests/test_fhir_decode.py`` builds every
fixture's snapshot from the filtered and the full JSON and fails on any difference.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ReadElements(TypedDict, total=False):
    """Every top-level element any reader of this package (or ``service.fhir.prefetch``) looks at."""

    resourceType: Any
    id: Any
    status: Any
    subject: Any
    code: Any
    # Observation (terminology.observations)
    effectiveDateTime: Any
    effectiveInstant: Any
    effectivePeriod: Any
    issued: Any
    valueQuantity: Any
    dataAbsentReason: Any
    referenceRange: Any
    interpretation: Any
    # Condition (terminology.clinical)
    clinicalStatus: Any
    verificationStatus: Any
    onsetDateTime: Any
    onsetPeriod: Any
    recordedDate: Any
    # Procedure (terminology.clinical)
    performedDateTime: Any
    performedPeriod: Any
    # MedicationRequest, MedicationAdministration (terminology.clinical)
    medicationCodeableConcept: Any
    medicationReference: Any
    dosageInstruction: Any
    dosage: Any
    authoredOn: Any
    # Patient (terminology.snapshot_builder)
    gender: Any
    birthDate: Any
    deceasedBoolean: Any
    deceasedDateTime: Any
    # OperationOutcome (service.fhir.prefetch: an EHR that failed a prefetch query)
    issue: Any


class BundleEntry(TypedDict, total=False):
    fullUrl: Any  # resolves urn:uuid subject references (terminology.subjects)
    resource: ReadElements


class ResourceOrBundle(ReadElements, total=False):
    """A prefetch value or a FHIR server's answer: one resource, or a Bundle of them (with paging links and
    its ``total``: together they tell a partial searchset, ``service.fhir.resolve.incomplete``)."""

    link: Any
    total: Any
    entry: list[BundleEntry]
