"""Derived values: albumin-corrected calcium, Ca×P, CKD-EPI 2021 eGFR, CKD staging and dialysis."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from terminology.derived import ckd_epi_2021
from terminology.knowledge import load_knowledge
from terminology.snapshot import PatientSnapshot
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd

K = load_knowledge()
EPI = K.derivation["ckdEpi2021"]
ALBUMIN = "1751-7"
IONIZED = "1995-0"
CREATININE = "2160-0"
EGFR_2021 = "98979-8"


def snap(*resources: dict[str, Any], **patient: Any) -> PatientSnapshot:
    return build_snapshot("p1", [fd.patient(**patient), fd.bundle(list(resources))], K, fd.NOW)


@pytest.mark.parametrize(
    ("creatinine", "age", "female", "expected"),
    [
        # At the knot (Scr = kappa) both spline terms are 1: eGFR = 142 x 0.9938^age (x 1.012 if female).
        (0.9, 40, False, 142 * 0.9938**40),
        (0.7, 60, True, 142 * 0.9938**60 * 1.012),
        # Published equation (Inker 2021; kidney.org), evaluated independently to 3 decimals.
        (1.0, 50, True, 68.633),
        (1.4, 58, False, 58.260),
        (0.6, 30, True, 123.758),
        (4.0, 80, False, 14.415),
        (1.2, 70, True, 48.697),
    ],
)
def test_ckd_epi_2021(creatinine: float, age: int, female: bool, expected: float) -> None:
    assert ckd_epi_2021(creatinine, age, female, EPI) == pytest.approx(expected, abs=5e-3)


def test_egfr_is_computed_from_creatinine_in_si_units() -> None:
    # 88.4 umol/L = 1.0 mg/dL; the patient is 66 on the day (born 1960-04-02).
    s = snap(fd.lab(CREATININE, 88.4, "umol/L", oid="cr"))
    egfr = s.latest("egfr")
    assert egfr is not None
    assert egfr.is_derived
    assert egfr.derived_from == ("Observation/cr",)
    assert egfr.value == pytest.approx(ckd_epi_2021(1.0, 66, True, EPI), abs=0.05)


def test_reported_egfr_wins_over_computing() -> None:
    s = snap(fd.lab(CREATININE, 1.0, "mg/dL"), fd.lab(EGFR_2021, 55, "mL/min/{1.73_m2}", oid="e"))
    assert [r.resource_id for r in s.series("egfr")] == ["e"]


@pytest.mark.parametrize(
    ("patient", "reason"),
    [({"gender": "unknown"}, "female or male"), ({"birth": "2015-01-01"}, "adults")],
)
def test_egfr_not_derivable_is_reported(patient: dict[str, Any], reason: str) -> None:
    s = snap(fd.lab(CREATININE, 1.0, "mg/dL", oid="cr"), **patient)
    assert s.series("egfr") == ()
    assert [(i.resource_id, i.reason) for i in s.ignored] == [("cr", "egfr-not-derivable")]
    assert reason in s.ignored[0].detail


@pytest.mark.parametrize(
    ("albumin", "calcium", "expected"),
    [
        ((2.0, "g/dL"), (9.0, "mg/dL"), 10.6),  # low albumin: a normal total becomes high
        ((20, "g/L"), (2.25, "mmol/L"), 10.6175),  # the same in SI units (2.25 mmol/L = 9.0175 mg/dL)
        ((4.0, "g/dL"), (9.0, "mg/dL"), 9.0),  # normal albumin: no change
        ((4.5, "g/dL"), (10.8, "mg/dL"), 10.4),  # high albumin lowers it
    ],
)
def test_albumin_corrected_calcium(
    albumin: tuple[float, str], calcium: tuple[float, str], expected: float
) -> None:
    ca_code = fd.CALCIUM_MASS if calcium[1] == "mg/dL" else fd.CALCIUM_MOLAR
    s = snap(fd.lab(ALBUMIN, *albumin, oid="alb"), fd.lab(ca_code, *calcium, oid="ca"))
    corrected = s.latest("calcium-albumin-corrected")
    assert corrected is not None
    assert corrected.value == pytest.approx(expected, abs=1e-3)
    assert corrected.derived_from == ("Observation/ca", "Observation/alb")


def test_no_correction_with_albumin_from_another_day_or_with_ionized_calcium() -> None:
    other_day = snap(
        fd.lab(ALBUMIN, 2.0, "g/dL", days_ago=3), fd.lab(fd.CALCIUM_MASS, 9.0, "mg/dL", days_ago=1)
    )
    assert other_day.series("calcium-albumin-corrected") == ()
    with_ionized = snap(
        fd.lab(ALBUMIN, 2.0, "g/dL"), fd.lab(fd.CALCIUM_MASS, 9.0, "mg/dL"), fd.lab(IONIZED, 1.2, "mmol/L")
    )
    assert with_ionized.series("calcium-albumin-corrected") == ()


def test_calcium_phosphate_product_prefers_corrected_calcium() -> None:
    s = snap(
        fd.lab(ALBUMIN, 3.0, "g/dL", oid="alb"),
        fd.lab(fd.CALCIUM_MASS, 9.0, "mg/dL", oid="ca"),
        fd.lab(fd.PHOSPHATE_MASS, 6.0, "mg/dL", oid="p"),
    )
    product = s.latest("calcium-phosphate-product")
    assert product is not None
    assert product.value == pytest.approx(9.8 * 6.0)
    assert product.derived_from == ("Observation/ca", "Observation/alb", "Observation/p")


def test_ckd_stage_from_sustained_low_egfr_only() -> None:
    recent_only = snap(fd.lab(EGFR_2021, 25, "mL/min/{1.73_m2}", days_ago=1))
    assert recent_only.ckd is None  # one value, no chronicity
    sustained = snap(
        fd.lab(EGFR_2021, 25, "mL/min/{1.73_m2}", days_ago=1),
        fd.lab(EGFR_2021, 40, "mL/min/{1.73_m2}", days_ago=100),
    )
    assert sustained.ckd is not None
    assert (sustained.ckd.stage, sustained.ckd.basis) == (4, "measured")
    interrupted = snap(
        fd.lab(EGFR_2021, 25, "mL/min/{1.73_m2}", days_ago=1),
        fd.lab(EGFR_2021, 75, "mL/min/{1.73_m2}", days_ago=50),
        fd.lab(EGFR_2021, 40, "mL/min/{1.73_m2}", days_ago=100),
    )
    assert interrupted.ckd is None


@pytest.mark.parametrize("value", [0, -0.01, -1.2, -88.4])
def test_an_impossible_creatinine_derives_nothing_and_says_why(value: float) -> None:
    """A creatinine of 0 made the eGFR formula divide by zero: a 500 for every call of the chart."""
    s = snap(fd.lab(CREATININE, value, "mg/dL", oid="cr"))
    assert s.series("creatinine") == () == s.series("egfr")
    assert [(i.resource_id, i.reason, i.analyte) for i in s.ignored] == [
        ("cr", "value-implausible", "creatinine")
    ]


@pytest.mark.parametrize(
    ("hours_ahead", "used"),
    [(-1, True), (23.9, True), (24.1, False), (24 * 365 * 900, False)],  # tolerance: 24 h of clock skew
)
def test_a_result_dated_in_the_future_is_not_used(hours_ahead: float, used: bool) -> None:
    when = (fd.NOW + timedelta(hours=hours_ahead)).isoformat()
    s = snap(fd.lab(fd.CALCIUM_MASS, 9.4, "mg/dL", oid="ca", effectiveDateTime=when))
    assert bool(s.series("calcium-total")) is used
    assert [i.reason for i in s.ignored] == ([] if used else ["date-in-future"])


def test_a_dialysis_session_dated_in_the_future_is_not_evidence_of_dialysis() -> None:
    def session(days_ago: int) -> dict[str, Any]:
        performed = (fd.NOW - timedelta(days=days_ago)).isoformat()
        coding = {"system": "http://snomed.info/sct", "code": "302497006", "display": "Hemodialysis"}
        return {
            "resourceType": "Procedure",
            "id": f"hd{days_ago}",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [coding]},
            "performedDateTime": performed,
        }

    assert snap(session(-3)).dialysis == ()
    assert snap(session(3)).dialysis != ()
