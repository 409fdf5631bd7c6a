"""Whose record a resource is (terminology.subjects): the three reference forms that name the patient."""

from __future__ import annotations

from typing import Any

import pytest

from terminology.subjects import patient_references
from tests import fhir_data as fd

SERVER = "https://ehr.example/fhir"
URN = "urn:uuid:6a3e9f0c-3c0b-4d6e-8b5f-1f2a3b4c5d6e"


def about(reference: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": "o", "subject": {"reference": reference}}


@pytest.mark.parametrize(
    ("reference", "fhir_server", "names"),
    [
        ("Patient/p1", None, True),
        ("Patient/p1", SERVER, True),
        (f"{SERVER}/Patient/p1", SERVER, True),
        (f"{SERVER}/Patient/p1", SERVER + "/", True),
        (f"{SERVER}/Patient/p1", None, False),  # absolute, but the request names no server
        ("https://other.example/fhir/Patient/p1", SERVER, False),
        ("Group/9/Patient/p1", SERVER, False),
        ("urn:x/Patient/p1", SERVER, False),
        ("Patient/p10", None, False),
        ("patient/p1", None, False),
        (URN, None, False),  # a urn:uuid only counts when the Bundle resolves it
    ],
)
def test_only_three_reference_forms_name_the_patient(
    reference: str, fhir_server: str | None, names: bool
) -> None:
    resource = about(reference)
    assert patient_references("p1", fhir_server, resource).names_patient(resource) is names


def test_a_urn_uuid_names_the_patient_when_the_same_bundle_resolves_it() -> None:
    bundle = fd.bundle([fd.patient("p1"), about(URN)])
    bundle["entry"][0]["fullUrl"] = URN
    refs = patient_references("p1", None, bundle)
    assert refs.names_patient(about(URN))
    assert not patient_references("p1", None, fd.bundle([about(URN)])).names_patient(about(URN))


@pytest.mark.parametrize(
    ("value", "someone_else"),
    [
        (fd.patient("p1"), False),
        (fd.patient("9b1deb4d"), True),
        (fd.bundle([]), False),  # no data says nothing either way
        (fd.bundle([about("Patient/p1"), about("Patient/p2")]), False),  # ours, plus one to ignore
        (fd.bundle([about("Patient/p2"), about("Patient/p3")]), True),
        (fd.bundle([fd.patient("p2")]), True),
        (fd.bundle([{"resourceType": "Medication", "id": "m"}]), False),  # nobody's
        (about("Patient/p2"), True),
        (about("Patient/p1"), False),
        (None, False),
    ],
)
def test_a_prefetch_value_about_someone_else_only(value: Any, someone_else: bool) -> None:
    assert patient_references("p1", None, value).about_someone_else(value) is someone_else
