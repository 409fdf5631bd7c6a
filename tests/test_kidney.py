"""Kidney function from what the chart says (terminology.kidney): eGFR units, recency, coded vs measured."""

from __future__ import annotations

from typing import Any

import pytest

from terminology.knowledge import load_knowledge
from terminology.snapshot import PatientSnapshot
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd
from tests.test_clinical import ICD10, condition

K = load_knowledge()
EGFR_MDRD = "33914-3"  # what Synthea reports
EGFR_2021 = "98979-8"
MAX_AGE = K.derivation["egfrCategories"]["evidenceMaxAgeDays"]


def snap(*resources: dict[str, Any]) -> PatientSnapshot:
    return build_snapshot("p1", [fd.patient(), fd.bundle(list(resources))], K, fd.NOW)


def egfr(value: float, days_ago: float, unit: str = "mL/min/{1.73_m2}", **extra: Any) -> dict[str, Any]:
    return fd.lab(EGFR_MDRD, value, unit, days_ago=days_ago, **extra)


@pytest.mark.parametrize(
    ("unit", "ucum", "read"),
    [
        ("mL/min", True, True),  # Synthea's and many laboratories' way of writing it
        ("mL/min", False, True),
        ("mL/min/1.73m2", False, True),
        ("mL/min/{1.73_m2}", True, True),
        ("mL/s", True, False),  # not an eGFR unit: reported, never guessed
    ],
)
def test_an_egfr_written_ml_per_min_is_per_1_73_m2(unit: str, ucum: bool, read: bool) -> None:
    s = snap(fd.lab(EGFR_MDRD, 67, unit, ucum=ucum, oid="e"))
    assert [r.value for r in s.series("egfr")] == ([67] if read else [])
    assert [i.reason for i in s.ignored] == ([] if read else ["unit-unknown"])


def test_ml_per_min_is_not_an_alias_for_other_analytes() -> None:
    s = snap(fd.lab("2160-0", 1.0, "mL/min", oid="cr"))  # a creatinine in mL/min is nonsense
    assert s.series("creatinine") == ()
    assert [(i.resource_id, i.reason) for i in s.ignored] == [("cr", "unit-unknown")]


@pytest.mark.parametrize(
    ("older_days_ago", "stage"),
    [(MAX_AGE - 1, 4), (MAX_AGE + 1, None)],  # the older value of a sustained run must be recent too
)
def test_egfr_older_than_the_maximum_age_does_not_stage(older_days_ago: int, stage: int | None) -> None:
    s = snap(egfr(25, 1), egfr(28, older_days_ago))
    assert (s.ckd.stage if s.ckd else None) == stage


def test_values_from_decades_ago_do_not_stage() -> None:
    s = snap(egfr(25, 365 * 37), egfr(28, 365 * 37 + 100))
    assert s.ckd is None


def test_a_current_egfr_overrules_a_disagreeing_coded_stage_and_says_so() -> None:
    old_stage_1 = condition(ICD10, "N18.1", recordedDate="1969-05-01")
    s = snap(old_stage_1, egfr(12.9, 2, oid="now"))
    assert s.ckd is not None
    assert (s.ckd.stage, s.ckd.label, s.ckd.basis, s.ckd.value) == (5, "CKD G5", "measured", 12.9)
    assert s.ckd.reference == "Observation/now"
    [note] = s.ckd.notes
    assert note.startswith("coded CKD stage 1 (N18.1 code N18.1, recorded 1969-05-01) is not used")
    assert "eGFR of 13 on" in note


def test_an_agreeing_coded_stage_is_staged_from_the_measured_value_without_a_note() -> None:
    s = snap(condition(ICD10, "N18.4"), egfr(22, 2, oid="now"))
    assert s.ckd is not None
    assert (s.ckd.stage, s.ckd.basis, s.ckd.notes) == (4, "measured", ())


def test_a_coded_stage_stands_alone_without_a_recent_egfr() -> None:
    s = snap(condition(ICD10, "N18.4"), egfr(70, MAX_AGE + 30))
    assert s.ckd is not None
    assert (s.ckd.stage, s.ckd.basis, s.ckd.reference) == (4, "coded", "Condition/c-N18.4")


def test_an_egfr_computed_from_creatinine_is_derived_evidence() -> None:
    s = snap(condition(ICD10, "N18.4"), fd.lab("2160-0", 3.0, "mg/dL", days_ago=2, oid="cr"))
    assert s.ckd is not None
    assert (s.ckd.basis, s.ckd.reference) == ("derived", "Observation/cr")
