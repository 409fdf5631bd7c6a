"""Filtered decoding (service.api.decode) keeps every element the snapshot reads and changes no result.

The decoder skips FHIR elements no reader looks at. If a reader starts reading an element that
``terminology.fhir_elements`` does not list, the snapshots below differ and this test names the fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench import workload
from service.api.decode import MalformedJsonError, decode_json, decode_request, decode_resource
from service.fhir.prefetch import PrefetchState, classify
from terminology.fhir_elements import ReadElements
from terminology.knowledge import load_knowledge
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd
from tests.reference_data import FHIR_SAMPLES

K = load_knowledge()
AS_OF = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "golden"
DEMO = Path(__file__).parents[1] / "service" / "demo" / "patients"


def _bundle_of(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(path.read_bytes())
    return document if document.get("resourceType") == "Bundle" else fd.bundle([document])


def _patient_id(bundle: dict[str, Any]) -> str:
    patients = [e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    return str(patients[0]) if patients else "p1"


SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SUBJECT = {"reference": "Patient/p1"}
IV = {"coding": [{"system": SNOMED, "code": "47625008", "display": "Intravenous route"}]}


def _lab(oid: str, code: str, value: float, **fields: Any) -> dict[str, Any]:
    base = fd.lab(code, value, "mg/dL", oid=oid)
    base.pop("effectiveDateTime")
    return base | fields


# One resource or more for every element of terminology.fhir_elements.ReadElements.
KITCHEN_SINK = [
    fd.patient("p1"),
    _lab(
        "instant",
        fd.CALCIUM_MASS,
        10.9,
        effectiveInstant="2026-11-20T08:00:00Z",
        referenceRange=[{"low": {"value": 8.6, "unit": "mg/dL"}, "high": {"value": 10.2, "unit": "mg/dL"}}],
        interpretation=[{"coding": [{"code": "H"}]}],
    ),
    _lab("period", fd.PHOSPHATE_MASS, 5.1, effectivePeriod={"start": "2026-11-19T08:00:00Z"}),
    _lab("issued-only", fd.PHOSPHATE_MASS, 4.1, issued="2026-11-18T08:00:00Z"),
    _lab(
        "absent",
        fd.CALCIUM_MASS,
        9.1,
        effectiveDateTime="2026-11-17T08:00:00Z",
        dataAbsentReason={"coding": [{"code": "error"}]},
    ),
    _lab("dated", fd.CALCIUM_MASS, 9.4, effectiveDateTime="2026-11-16T08:00:00Z"),
    {
        "resourceType": "Condition",
        "id": "ssc",
        "subject": SUBJECT,
        "code": {"coding": [{"system": ICD10, "code": "M34.1", "display": "CREST syndrome"}]},
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "onsetPeriod": {"start": "2015-01-01"},
        "recordedDate": "2015-02-01",
    },
    {
        "resourceType": "Condition",
        "id": "esrd",
        "subject": SUBJECT,
        "onsetDateTime": "2020-01-01",
        "code": {"coding": [{"system": ICD10, "code": "N18.6", "display": "End stage renal disease"}]},
    },
    {
        "resourceType": "Procedure",
        "id": "hd",
        "subject": SUBJECT,
        "status": "completed",
        "code": {"coding": [{"system": SNOMED, "code": "302497006", "display": "Hemodialysis"}]},
        "performedPeriod": {"start": "2026-11-10T08:00:00Z"},
    },
    {
        "resourceType": "Procedure",
        "id": "hd-2",
        "subject": SUBJECT,
        "status": "completed",
        "code": {"coding": [{"system": SNOMED, "code": "302497006", "display": "Hemodialysis"}]},
        "performedDateTime": "2026-11-12T08:00:00Z",
    },
    {
        "resourceType": "MedicationRequest",
        "id": "ca-iv",
        "subject": SUBJECT,
        "status": "active",
        # No dose form in the name: with one, a route-less IV calcium order reads as intravenous anyway
        # (medication_text.json doseForms) and dropping dosageInstruction would change nothing.
        "medicationReference": {"display": "Calcium gluconate 1 g"},
        "dosageInstruction": [{"route": IV}],
        "authoredOn": "2026-11-15",
    },
    {
        "resourceType": "MedicationAdministration",
        "id": "ca-given",
        "subject": SUBJECT,
        "status": "completed",
        "medicationCodeableConcept": {"text": "Calcium gluconate 1 g"},
        "dosage": {"route": IV},
        "effectiveDateTime": "2026-11-15T10:00:00Z",
    },
]
INFORMATION_ONLY = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "information", "code": "informational"}],
}


def _outcome(resources: list[dict[str, Any]], note: dict[str, Any]) -> tuple[Any, ...]:
    """What the service takes from a filtered request: the snapshot and how each prefetch is classified."""
    body = fd.request_body(prefetch={"labs": fd.bundle(resources), "note": note})
    decoded = decode_request(orjson.dumps(body))
    states = [classify(decoded["prefetch"], key) for key in ("labs", "note")]
    return build_snapshot("p1", decoded["prefetch"].values(), K, AS_OF), states


def test_the_kitchen_sink_gives_the_same_outcome_filtered_and_whole() -> None:
    raw = orjson.dumps(fd.bundle(KITCHEN_SINK))
    whole = build_snapshot("p1", [decode_json(raw)], K, AS_OF)
    assert build_snapshot("p1", [decode_resource(raw)], K, AS_OF) == whole
    assert len(whole.medications) == 2
    assert whole.on_dialysis


# Elements that would contradict each other in one chart get a fixture of their own.
OWN_SINKS = {
    "deceasedBoolean": [fd.patient("p1") | {"deceasedBoolean": True}],
    "deceasedDateTime": [fd.patient("p1") | {"deceasedDateTime": "2011-04-02"}],
}


@pytest.mark.parametrize("element", sorted(ReadElements.__annotations__))
def test_every_kept_element_is_read(element: str) -> None:
    """No stale entry in the schema: dropping any kept element from the kitchen sink changes the outcome."""
    sink = OWN_SINKS.get(element, KITCHEN_SINK)
    stripped = [{k: v for k, v in r.items() if k != element} for r in sink]
    note = {k: v for k, v in INFORMATION_ONLY.items() if k != element}
    assert _outcome(stripped, note) != _outcome(sink, INFORMATION_ONLY)


FHIR_FIXTURES = sorted(DEMO.glob("*.json")) + sorted(FHIR_SAMPLES.glob("*/*.json"))
GOLDEN_REQUESTS = sorted(GOLDEN.glob("*.request.json"))


def test_there_are_fixtures_to_compare() -> None:
    assert len(FHIR_FIXTURES) >= 10
    assert len(GOLDEN_REQUESTS) >= 10


@pytest.mark.parametrize("path", FHIR_FIXTURES, ids=lambda p: p.stem[:30])
def test_a_fhir_answer_gives_the_same_snapshot_filtered_and_whole(path: Path) -> None:
    bundle = _bundle_of(path)
    raw = orjson.dumps(bundle)
    patient = _patient_id(bundle)
    whole = build_snapshot(patient, [decode_json(raw)], K, AS_OF)
    filtered = build_snapshot(patient, [decode_resource(raw)], K, AS_OF)
    assert filtered == whole


@pytest.mark.parametrize("path", GOLDEN_REQUESTS, ids=lambda p: p.stem)
def test_a_hook_request_gives_the_same_snapshot_filtered_and_whole(path: Path) -> None:
    raw = path.read_bytes()
    whole, filtered = decode_json(raw), decode_request(raw)
    patient = whole["context"]["patientId"]
    assert filtered["context"] == whole["context"]
    assert [classify(filtered["prefetch"], k) for k in whole["prefetch"]] == [
        classify(whole["prefetch"], k) for k in whole["prefetch"]
    ]
    expected = build_snapshot(patient, whole["prefetch"].values(), K, AS_OF)
    assert build_snapshot(patient, filtered["prefetch"].values(), K, AS_OF) == expected


def test_unread_elements_are_dropped_and_read_ones_kept_whole() -> None:
    observation = workload.observations(1)[0] | {"text": {"status": "generated", "div": "<div/>"}}
    decoded = decode_resource(orjson.dumps(fd.bundle([observation])))
    resource = decoded["entry"][0]["resource"]
    assert set(resource) == {
        "resourceType",
        "id",
        "status",
        "code",
        "subject",
        "effectiveDateTime",
        "issued",
        "valueQuantity",
    }
    assert resource["code"] == observation["code"]
    assert resource["valueQuantity"] == observation["valueQuantity"]
    assert "search" not in decoded["entry"][0]


def test_paging_links_survive_filtering() -> None:
    page = fd.bundle([]) | {"link": [{"relation": "next", "url": "https://fhir.example/Observation?page=2"}]}
    assert decode_resource(orjson.dumps(page))["link"] == page["link"]


@pytest.mark.parametrize(
    "prefetch",
    [
        {"labs": "not a resource"},
        {"labs": {"resourceType": "Bundle", "entry": {"resource": {}}}},
        {"labs": {"resourceType": "Bundle", "entry": ["not an entry"]}},
        ["not", "an", "object"],
    ],
    ids=["string-value", "entry-object", "entry-item-string", "prefetch-array"],
)
def test_a_body_of_another_shape_is_decoded_whole(prefetch: Any) -> None:
    body = fd.request_body() | {"prefetch": prefetch}
    assert decode_request(orjson.dumps(body)) == body


def test_a_prefetch_the_ehr_failed_is_still_recognised() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    decoded = decode_request(orjson.dumps(fd.request_body(prefetch={"labs": outcome})))
    assert classify(decoded["prefetch"], "labs") is PrefetchState.EHR_FAILED


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b'{"a": NaN}',
        b"[" * 5000 + b"]" * 5000,
        b'{"prefetch": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
        b'{"context": {"a": 1e400}}',
    ],
    ids=["not-json", "empty", "nan", "deep", "deep-in-prefetch", "number-out-of-range"],
)
def test_malformed_json_is_reported_not_raised_as_something_else(raw: bytes) -> None:
    with pytest.raises(MalformedJsonError):
        decode_request(raw)
