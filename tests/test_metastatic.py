"""The metastatic calcification rule at, just below and just above every threshold, in both unit systems."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cards import metastatic
from cards.finding import Finding
from terminology.knowledge import load_knowledge
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd

K = load_knowledge()
CONFIG = metastatic.load_config()


def evaluate(*labs: dict[str, Any]) -> list[Finding]:
    snapshot = build_snapshot("p1", [fd.patient(), fd.bundle(list(labs))], K, fd.NOW)
    return metastatic.evaluate(snapshot, CONFIG, fd.NOW)


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
def test_calcium_grades(value: float, unit: str, expected: str | None) -> None:
    code = fd.CALCIUM_MASS if unit == "mg/dL" else fd.CALCIUM_MOLAR
    assert indicator(evaluate(fd.lab(code, value, unit))) == expected


@pytest.mark.parametrize(
    ("calcium", "phosphate", "expected"),
    [
        ((10.0, "mg/dL"), (5.5, "mg/dL"), "warning"),  # 55.0: at the KDOQI limit
        ((10.0, "mg/dL"), (5.4, "mg/dL"), None),  # 54.0
        ((10.0, "mg/dL"), (5.6, "mg/dL"), "warning"),  # 56.0
        ((2.50, "mmol/L"), (1.78, "mmol/L"), "warning"),  # 10.02 x 5.51 = 55.2
        ((2.50, "mmol/L"), (1.75, "mmol/L"), None),  # 10.02 x 5.42 = 54.3
    ],
)
def test_calcium_phosphate_product(
    calcium: tuple[float, str], phosphate: tuple[float, str], expected: str | None
) -> None:
    ca_code = fd.CALCIUM_MASS if calcium[1] == "mg/dL" else fd.CALCIUM_MOLAR
    p_code = fd.PHOSPHATE_MASS if phosphate[1] == "mg/dL" else fd.PHOSPHATE_MOLAR
    findings = evaluate(fd.lab(ca_code, *calcium), fd.lab(p_code, *phosphate))
    assert indicator(findings) == expected


def test_product_needs_same_day_values() -> None:
    findings = evaluate(
        fd.lab(fd.CALCIUM_MASS, 10.0, "mg/dL", days_ago=1),
        fd.lab(fd.PHOSPHATE_MASS, 7.0, "mg/dL", days_ago=3),
    )
    assert findings == []


def test_same_result_in_both_unit_systems_gives_the_same_summary() -> None:
    mass = evaluate(fd.lab(fd.CALCIUM_MASS, 12.4, "mg/dL"))
    molar = evaluate(fd.lab(fd.CALCIUM_MOLAR, 3.094, "mmol/L"))  # 12.40 mg/dL
    assert (
        mass[0].summary
        == molar[0].summary
        == "Moderate hypercalcemia (Ca 12.4 mg/dL): metastatic calcification risk"
    )


def test_both_findings_take_the_higher_indicator_and_cite_kdoqi() -> None:
    findings = evaluate(fd.lab(fd.CALCIUM_MASS, 14.2, "mg/dL"), fd.lab(fd.PHOSPHATE_MASS, 6.0, "mg/dL"))
    assert len(findings) == 1
    assert findings[0].indicator == "critical"
    assert "Ca×P 85" in findings[0].summary
    assert [e.source for e in findings[0].evidence][-1] == "derived"


def test_stale_abnormal_superseded_by_recent_normal() -> None:
    findings = evaluate(
        fd.lab(fd.CALCIUM_MASS, 13.0, "mg/dL", days_ago=30), fd.lab(fd.CALCIUM_MASS, 9.4, "mg/dL", days_ago=2)
    )
    assert findings == []


def test_results_older_than_the_lookback_are_not_used() -> None:
    days = CONFIG.lookback_days.value
    assert evaluate(fd.lab(fd.CALCIUM_MASS, 13.0, "mg/dL", days_ago=days + 1)) == []
    assert indicator(evaluate(fd.lab(fd.CALCIUM_MASS, 13.0, "mg/dL", days_ago=days - 1))) == "warning"


def test_entered_in_error_gives_no_card_and_is_listed_as_not_used() -> None:
    assert evaluate(fd.lab(fd.CALCIUM_MASS, 13.0, "mg/dL", status="entered-in-error")) == []
    findings = evaluate(
        fd.lab(fd.CALCIUM_MASS, 13.0, "mg/dL"),
        fd.lab(fd.CALCIUM_MASS, 9.0, "mg/dL", status="entered-in-error", oid="bad"),
    )
    assert findings[0].not_used == ("Observation/bad: status 'entered-in-error' (status-unusable)",)


def test_threshold_data_carries_units_and_citations() -> None:
    thresholds = CONFIG.thresholds
    for name in type(thresholds).model_fields:
        threshold = getattr(thresholds, name)
        assert threshold.unit, name
        assert threshold.citation, name
    assert timedelta(days=CONFIG.lookback_days.value) > timedelta(0)
