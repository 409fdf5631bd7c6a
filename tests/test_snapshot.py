"""Building the PatientSnapshot from raw FHIR JSON: what is used, what is ignored and why."""

from __future__ import annotations

from typing import Any

import pytest

from terminology import snapshot_builder
from terminology.knowledge import load_knowledge
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd
from tests.reference_data import FHIR_SAMPLES, load

K = load_knowledge()


def snap(*resources: dict[str, Any], pid: str = "p1") -> Any:
    return build_snapshot(pid, [fd.bundle(list(resources))], K, fd.NOW)


def test_patient_and_labs_newest_first() -> None:
    s = snap(
        fd.patient(),
        fd.lab(fd.CALCIUM_MASS, 9.5, "mg/dL", days_ago=10, oid="old"),
        fd.lab(fd.CALCIUM_MOLAR, 2.9, "mmol/L", days_ago=1, oid="new"),
    )
    assert s.sex == "female"
    assert str(s.birth_date) == "1960-04-02"
    assert [r.resource_id for r in s.series("calcium-total")] == ["new", "old"]
    latest = s.latest("calcium-total")
    assert latest is not None
    assert (latest.value, latest.unit, latest.reported_value, latest.reported_unit) == (
        11.6226,
        "mg/dL",
        2.9,
        "mmol/L",
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "entered-in-error"}, "status-unusable"),
        ({"status": "cancelled"}, "status-unusable"),
        ({"status": "preliminary"}, "status-unusable"),
        ({"subject": {"reference": "Patient/someone-else"}}, "subject-mismatch"),
        ({"dataAbsentReason": {"text": "lost"}}, "data-absent"),
        ({"valueQuantity": None}, "value-not-numeric"),
        ({"valueQuantity": {"value": "high", "unit": "mg/dL"}}, "value-not-numeric"),
        ({"valueQuantity": {"value": True, "unit": "mg/dL"}}, "value-not-numeric"),
        ({"valueQuantity": {"value": 15, "unit": "mg/dL", "comparator": "ad"}}, "value-comparator-invalid"),
        ({"valueQuantity": {"value": 2.5, "unit": "mEq/L"}}, "unit-unknown"),
        ({"valueQuantity": {"value": 2.5}}, "unit-missing"),
        ({"effectiveDateTime": None}, "date-missing"),
        ({"effectiveDateTime": "2026-11"}, "date-imprecise"),
        ({"effectiveDateTime": "2026-13-45"}, "date-invalid"),
    ],
)
def test_unusable_observations_are_reported(change: dict[str, Any], reason: str) -> None:
    obs = fd.lab(fd.CALCIUM_MASS, 12.5, "mg/dL", oid="x") | change
    obs = {k: v for k, v in obs.items() if v is not None}
    s = snap(obs)
    assert s.series("calcium-total") == ()
    assert [(i.resource_id, i.reason, i.analyte) for i in s.ignored] == [("x", reason, "calcium-total")]


@pytest.mark.parametrize(
    ("comparator", "lower", "upper"), [(">", 15.0, None), (">=", 15.0, None), ("<", None, 15.0)]
)
def test_comparators_are_kept_as_bounds(comparator: str, lower: float | None, upper: float | None) -> None:
    quantity = {"value": 15, "unit": "mg/dL", "system": fd.UCUM, "code": "mg/dL", "comparator": comparator}
    result = snap(fd.lab(fd.CALCIUM_MASS, 15, "mg/dL") | {"valueQuantity": quantity}).latest("calcium-total")
    assert result is not None
    assert (result.comparator, result.lower_bound, result.upper_bound) == (comparator, lower, upper)


def test_unknown_codes_are_reported_not_guessed() -> None:
    s = snap(fd.lab("4548-4", 7.1, "%", oid="a1c"))
    assert [(i.resource_id, i.reason) for i in s.ignored] == [("a1c", "code-unknown")]


def test_period_start_and_absolute_subject_reference_against_the_requests_fhir_server() -> None:
    obs = fd.lab(fd.PHOSPHATE_MASS, 4.0, "mg/dL", oid="p")
    del obs["effectiveDateTime"]
    obs["effectivePeriod"] = {"start": "2026-11-01T08:00:00Z"}
    obs["subject"] = {"reference": "https://ehr.example.org/fhir/Patient/p1"}
    server = "https://ehr.example.org/fhir/"
    result = build_snapshot("p1", [fd.bundle([obs])], K, fd.NOW, server).latest("phosphate")
    assert result is not None
    assert result.day.isoformat() == "2026-11-01"
    elsewhere = build_snapshot("p1", [fd.bundle([obs])], K, fd.NOW, "https://other.example.org/fhir")
    assert [(i.resource_id, i.reason) for i in elsewhere.ignored] == [("p", "subject-mismatch")]


def test_other_patient_resource_is_ignored() -> None:
    s = snap(fd.patient("p2"))
    assert s.sex is None
    assert [i.reason for i in s.ignored] == ["subject-mismatch"]


def test_operation_outcome_entries_are_not_resources() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "incomplete"}]}
    assert snap(outcome).ignored == ()


def test_us_core_calcium_has_no_ucum_code_but_is_read() -> None:
    obs = load(FHIR_SAMPLES / "us-core" / "Observation-serum-calcium.json")
    pid = obs["subject"]["reference"].split("/")[-1]
    result = build_snapshot(pid, [obs], K, fd.NOW).latest("calcium-total")
    assert result is not None
    assert (result.value, result.unit) == (obs["valueQuantity"]["value"], "mg/dL")


def test_synthea_calcium_is_read_through_urn_uuid_subjects() -> None:
    """Synthea's subjects are ``urn:uuid:`` references that the Bundle resolves to its one Patient."""
    calcium_codes = {code for _, code in K.codes_of(K.analytes["calcium-total"].value_set)}
    counts = []
    for path in sorted((FHIR_SAMPLES / "synthea").glob("*.json")):
        bundle = load(path)
        patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        calcium_entries = [
            e["resource"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"
            and any(c["code"] in calcium_codes for c in e["resource"]["code"].get("coding", []))
        ]
        assert all(obs["subject"]["reference"].startswith("urn:uuid:") for obs in calcium_entries)
        s = build_snapshot(patient["id"], [bundle], K, fd.NOW)
        counts.append((len(s.series("calcium-total")), len(calcium_entries)))
    assert all(read == present for read, present in counts)
    assert sum(present for _, present in counts) > 0


@pytest.mark.parametrize("path", sorted((FHIR_SAMPLES / "synthea").glob("*.json")), ids=lambda p: p.stem[:20])
def test_synthea_blood_creatinine_and_mdrd_egfr_are_read(path: Any) -> None:
    bundle = load(path)
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    coded = {c["code"] for obs in observations for c in obs["code"].get("coding", [])}
    s = build_snapshot(patient["id"], [bundle], K, fd.NOW)
    if "38483-4" in coded:
        assert s.series("creatinine")
    if "33914-3" in coded:
        assert any(not r.is_derived and r.code == "33914-3" for r in s.series("egfr"))


def test_a_resource_a_reader_cannot_take_costs_that_resource_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_reader(resource: dict[str, Any], knowledge: Any) -> None:
        raise KeyError("planted")

    monkeypatch.setitem(snapshot_builder.CLINICAL_READERS, "Condition", broken_reader)
    condition = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}
    s = snap(fd.patient(), condition, fd.lab(fd.CALCIUM_MASS, 9.4, "mg/dL", oid="ca"))
    assert [r.resource_id for r in s.series("calcium-total")] == ["ca"]
    assert [(i.resource_id, i.reason, i.detail) for i in s.ignored] == [
        ("c1", "unreadable", "could not be read (KeyError)")
    ]
