"""The metastatic calcification rule at, just below and just above every threshold, in both unit systems."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cards import metastatic
from cards.data_files import citations
from cards.finding import Finding
from cards.given import Given
from terminology.knowledge import load_knowledge
from terminology.snapshot import PatientSnapshot
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd

K = load_knowledge()
CONFIG = metastatic.load_config().bind(K)
ALBUMIN = "1751-7"
IONIZED = "1995-0"
PTH = "2731-8"
EGFR = "98979-8"


def evaluate(*resources: dict[str, Any]) -> list[Finding]:
    snapshot = build_snapshot("p1", [fd.patient(), fd.bundle(list(resources))], K, fd.NOW)
    return metastatic.evaluate(Given(snapshot), CONFIG, fd.NOW)


def indicator(findings: list[Finding]) -> str | None:
    return findings[0].indicator if findings else None


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (10.5, "mg/dL", None),  # at the upper normal limit: not hypercalcemia (> 10.5)
        (10.4, "mg/dL", None),
        (10.6, "mg/dL", "info"),
        (11.9, "mg/dL", "info"),
        (12.0, "mg/dL", "warning"),  # moderate from 12
        (13.9, "mg/dL", "warning"),
        (14.0, "mg/dL", "critical"),  # severe from 14
        (14.1, "mg/dL", "critical"),
        (2.61, "mmol/L", None),  # 10.46 mg/dL
        (2.62, "mmol/L", "info"),  # 10.50 mg/dL: just above 10.5 after conversion
        (2.99, "mmol/L", "info"),  # 11.98
        (3.00, "mmol/L", "warning"),  # 12.02
        (3.49, "mmol/L", "warning"),  # 13.99
        (3.50, "mmol/L", "critical"),  # 14.03
    ],
)
def test_corrected_calcium_grades_both_units(value: float, unit: str, expected: str | None) -> None:
    code = fd.CALCIUM_MASS if unit == "mg/dL" else fd.CALCIUM_MOLAR
    # albumin 4.0 g/dL on the same day: the corrected calcium equals the total
    assert indicator(evaluate(fd.lab(code, value, unit), fd.lab(ALBUMIN, 4.0, "g/dL"))) == expected


def test_uncorrected_total_calcium_is_used_and_flagged() -> None:
    findings = evaluate(fd.lab(fd.CALCIUM_MASS, 12.4, "mg/dL"))
    assert (
        findings[0].summary == "Moderate hypercalcemia (total Ca 12.4 mg/dL): metastatic calcification risk"
    )
    assert any("not corrected: no albumin from the same day" in r for r in findings[0].reasons)


def test_low_albumin_makes_a_normal_calcium_high_and_normal_albumin_does_not() -> None:
    low = evaluate(fd.lab(fd.CALCIUM_MASS, 9.8, "mg/dL"), fd.lab(ALBUMIN, 2.4, "g/dL"))
    assert low[0].summary.startswith("Mild hypercalcemia (corrected Ca 11.1 mg/dL)")  # 11.08: one decimal
    assert evaluate(fd.lab(fd.CALCIUM_MASS, 9.8, "mg/dL"), fd.lab(ALBUMIN, 4.0, "g/dL")) == []


def test_high_albumin_lowers_the_corrected_value_below_the_limit() -> None:
    assert evaluate(fd.lab(fd.CALCIUM_MASS, 10.8, "mg/dL"), fd.lab(ALBUMIN, 4.5, "g/dL")) == []


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (1.32, "mmol/L", None),  # upper limit 5.3 mg/dL = 1.3224 mmol/L
        (1.31, "mmol/L", None),
        (1.33, "mmol/L", "info"),  # mild
        (5.3, "mg/dL", None),
        (5.4, "mg/dL", "info"),
        (1.6, "mmol/L", "info"),
        (1.61, "mmol/L", "warning"),  # moderate above 1.6 (CTCAE grade 3)
        (6.5, "mg/dL", "warning"),  # 1.62 mmol/L
        (1.8, "mmol/L", "warning"),
        (1.81, "mmol/L", "critical"),  # severe above 1.8 (CTCAE grade 4)
        (7.3, "mg/dL", "critical"),  # 1.82 mmol/L
    ],
)
def test_ionized_calcium(value: float, unit: str, expected: str | None) -> None:
    code = IONIZED if unit == "mmol/L" else "17864-0"
    assert indicator(evaluate(fd.lab(code, value, unit))) == expected


def test_ionized_wins_over_total_on_the_same_day() -> None:
    findings = evaluate(fd.lab(fd.CALCIUM_MASS, 11.0, "mg/dL"), fd.lab(IONIZED, 1.20, "mmol/L"))
    assert findings == []


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (4.5, "mg/dL", None),
        (4.4, "mg/dL", None),
        (4.6, "mg/dL", "info"),
        (1.45, "mmol/L", None),
        (1.46, "mmol/L", "info"),
    ],
)
def test_hyperphosphatemia_both_units(value: float, unit: str, expected: str | None) -> None:
    code = fd.PHOSPHATE_MASS if unit == "mg/dL" else fd.PHOSPHATE_MOLAR
    assert indicator(evaluate(fd.lab(code, value, unit))) == expected


DIALYSIS = {
    "resourceType": "Condition",
    "id": "z992",
    "code": {
        "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "Z99.2", "display": "Dialysis"}]
    },
    "subject": {"reference": "Patient/p1"},
    "clinicalStatus": {"coding": [{"code": "active"}]},
}


@pytest.mark.parametrize(
    ("kidney", "calcium", "phosphate", "tags"),
    [
        # On dialysis (and in CKD G4-G5): KDOQI's target, >= 55 mg2/dL2.
        ([DIALYSIS], (10.0, "mg/dL"), (5.5, "mg/dL"), {"phosphate", "product"}),  # 55.0: at the limit
        ([DIALYSIS], (10.0, "mg/dL"), (5.4, "mg/dL"), {"phosphate"}),  # 54.0
        ([DIALYSIS], (10.0, "mg/dL"), (5.6, "mg/dL"), {"phosphate", "product"}),  # 56.0
        ([DIALYSIS], (2.50, "mmol/L"), (1.78, "mmol/L"), {"phosphate", "product"}),  # 10.02 x 5.51 = 55.2
        ([DIALYSIS], (2.50, "mmol/L"), (1.75, "mmol/L"), {"phosphate"}),  # 10.02 x 5.42 = 54.3
        # Elsewhere (issue 13): above 70 mg2/dL2, the dermatology literature's level.
        ([], (10.0, "mg/dL"), (5.6, "mg/dL"), {"phosphate"}),  # 56.0: no longer counts
        ([], (10.0, "mg/dL"), (7.0, "mg/dL"), {"phosphate"}),  # 70.0: at, not above
        ([], (10.0, "mg/dL"), (7.1, "mg/dL"), {"phosphate", "product"}),  # 71.0
        ([], (2.50, "mmol/L"), (2.25, "mmol/L"), {"phosphate"}),  # 10.02 x 6.969 = 69.8
        ([], (2.50, "mmol/L"), (2.27, "mmol/L"), {"phosphate", "product"}),  # 10.02 x 7.031 = 70.45
    ],
)
def test_calcium_phosphate_product(
    kidney: list[dict[str, Any]], calcium: tuple[float, str], phosphate: tuple[float, str], tags: set[str]
) -> None:
    ca_code = fd.CALCIUM_MASS if calcium[1] == "mg/dL" else fd.CALCIUM_MOLAR
    p_code = fd.PHOSPHATE_MASS if phosphate[1] == "mg/dL" else fd.PHOSPHATE_MOLAR
    findings = evaluate(*kidney, fd.lab(ca_code, *calcium), fd.lab(p_code, *phosphate))
    assert set(findings[0].tags) == tags


def test_product_needs_the_latest_values_on_one_day() -> None:
    findings = evaluate(
        fd.lab(fd.CALCIUM_MASS, 10.0, "mg/dL", days_ago=1),
        fd.lab(fd.PHOSPHATE_MASS, 7.0, "mg/dL", days_ago=3),
    )
    assert set(findings[0].tags) == {"phosphate"}


def test_stale_abnormal_superseded_by_recent_normal() -> None:
    findings = evaluate(
        fd.lab(fd.CALCIUM_MASS, 13.0, "mg/dL", days_ago=30), fd.lab(fd.CALCIUM_MASS, 9.4, "mg/dL", days_ago=2)
    )
    assert findings == []


def test_results_older_than_the_window_are_not_used() -> None:
    days = CONFIG.windows["labs"].value
    assert evaluate(fd.lab(fd.CALCIUM_MASS, 13.0, "mg/dL", days_ago=days + 1)) == []
    assert indicator(evaluate(fd.lab(fd.CALCIUM_MASS, 13.0, "mg/dL", days_ago=days - 1))) == "warning"


def test_upper_bound_result_never_raises_a_grade() -> None:
    high_but_bounded = fd.lab(fd.CALCIUM_MASS, 15, "mg/dL")
    high_but_bounded["valueQuantity"]["comparator"] = "<"
    assert evaluate(high_but_bounded) == []
    lower_bound = fd.lab(fd.CALCIUM_MASS, 15, "mg/dL")
    lower_bound["valueQuantity"]["comparator"] = ">"
    assert indicator(evaluate(lower_bound)) == "critical"


def test_contributors_are_listed_with_evidence() -> None:
    findings = evaluate(
        fd.lab(fd.CALCIUM_MASS, 11.2, "mg/dL", oid="ca"),
        fd.lab(PTH, 180, "pg/mL", oid="pth"),
        fd.lab(EGFR, 22, "mL/min/{1.73_m2}", oid="egfr"),
    )
    reasons = " ".join(findings[0].reasons)
    assert "PTH is above 65 pg/mL" in reasons
    assert "eGFR below 30" in reasons
    assert {e.reference for e in findings[0].evidence} >= {
        "Observation/ca",
        "Observation/pth",
        "Observation/egfr",
    }


def test_missing_workup_is_suggested_and_recent_tests_are_not() -> None:
    findings = evaluate(fd.lab(fd.CALCIUM_MASS, 12.4, "mg/dL"), fd.lab(PTH, 20, "pg/mL"))
    assert "pth" not in findings[0].workup
    assert {"albumin", "phosphate", "renal-function", "vitamin-d-25"} <= set(findings[0].workup)


def test_entered_in_error_gives_no_card_and_is_listed_as_not_used() -> None:
    assert evaluate(fd.lab(fd.CALCIUM_MASS, 13.0, "mg/dL", status="entered-in-error")) == []
    findings = evaluate(
        fd.lab(fd.CALCIUM_MASS, 13.0, "mg/dL"),
        fd.lab(fd.CALCIUM_MASS, 9.0, "mg/dL", status="entered-in-error", oid="bad"),
    )
    assert findings[0].not_used == ("Observation/bad: status 'entered-in-error' (status-unusable)",)


def test_every_threshold_carries_unit_and_citation() -> None:
    """A fixed threshold cites its source; a reference-interval one cites its band's, for any age."""
    for name, threshold in CONFIG.thresholds.items():
        assert threshold.unit, name
        for birth in (None, date(2020, 1, 1), date(2010, 1, 1), date(1960, 1, 1)):
            patient = PatientSnapshot("p1", fd.NOW, birth_date=birth, sex="female")
            resolved = CONFIG.limit(name, patient, fd.NOW.date())
            assert resolved is not None, name
            assert resolved.cited in citations(), name
