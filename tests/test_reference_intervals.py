"""Age- and sex-specific reference intervals: every band edge, and the rules judging children by them.

The bands come from one cited pediatric source (terminology/data/reference_intervals.json); these tables
check the lookup at each edge (the day of the birthday that starts a band and the day before), the
examples issue 12 names, and the phosphate card at, just below and just above each band's upper limit in
mg/dL and mmol/L.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cards import metastatic, tumoral
from cards.given import Given
from terminology.knowledge import load_knowledge
from terminology.reference_intervals import load_reference_intervals
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd

K = load_knowledge()
DATA = json.loads(
    (Path(__file__).parents[1] / "terminology" / "data" / "reference_intervals.json").read_text()
)
DAY = date(2026, 11, 20)  # the result's day (fd.NOW is 2026-11-21)
P_MOLAR_PER_MG = 1 / 3.0974  # mmol/L per mg/dL of phosphorus (30.974 g/mol)


def born(span: str, before: int = 0) -> date:
    """A birth date that makes the patient exactly ``span`` old on DAY (``before`` days short of it)."""
    count, unit = int(span.rstrip("dmoy")), span.lstrip("0123456789")
    if unit == "d":
        birth = DAY - timedelta(days=count)
    else:
        months = count if unit == "mo" else 12 * count
        month_index = DAY.month - 1 - months
        birth = date(DAY.year + month_index // 12, month_index % 12 + 1, DAY.day)
    return birth + timedelta(days=before)


def edges() -> list[Any]:
    rows = []
    for name, spec in DATA["intervals"].items():
        bands = spec["bands"]
        for previous, band in zip([None, *bands[:-1]], bands, strict=True):
            for sex in ("female", "male"):
                for analyte in spec["analytes"]:
                    rows.append(
                        pytest.param(
                            analyte,
                            sex,
                            born(band["from"]),
                            band[sex][1],
                            id=f"{name}-{sex}-at-{band['from']}",
                        )
                    )
                    if previous is not None:
                        before = born(band["from"], before=1)
                        rows.append(
                            pytest.param(
                                analyte,
                                sex,
                                before,
                                previous[sex][1],
                                id=f"{name}-{sex}-before-{band['from']}",
                            )
                        )
    return rows


@pytest.mark.parametrize(("analyte", "sex", "birth", "high"), edges())
def test_the_band_changes_on_the_birthday_that_starts_it(
    analyte: str, sex: str, birth: date, high: float
) -> None:
    interval = K.reference_intervals.interval(analyte, birth, sex, DAY)
    assert interval is not None
    assert interval.high == high


@pytest.mark.parametrize(
    ("age", "sex", "value", "high"),
    [
        (6, "female", 5.8, False),  # issue 12: a 6-year-old with 5.8 mg/dL is normal
        (6, "male", 5.8, False),
        (14, "female", 7.2, True),  # a 14-year-old with 7.2 mg/dL is high
        (14, "male", 7.2, True),
        (16, "female", 6.8, True),  # the 16-year-old who got nothing
        (16, "male", 6.8, True),
        (40, "female", 4.6, True),  # adults: 4.5 mg/dL as before
        (40, "female", 4.5, False),
    ],
)
def test_the_examples_of_issue_12(age: int, sex: str, value: float, high: bool) -> None:
    assert phosphate_card(born(f"{age}y"), sex, value, "mg/dL") is high
    assert phosphate_card(born(f"{age}y"), sex, round(value * P_MOLAR_PER_MG, 4), "mmol/L") is high


def phosphate_card(birth: date, sex: str, value: float, unit: str) -> bool:
    when = f"{DAY.isoformat()}T08:00:00Z"
    observation = fd.lab(
        fd.PHOSPHATE_MASS if unit == "mg/dL" else fd.PHOSPHATE_MOLAR, value, unit, effectiveDateTime=when
    )
    patient = fd.patient("p1", sex, birth.isoformat())
    snapshot = build_snapshot("p1", [patient, fd.bundle([observation])], K, fd.NOW)
    config = metastatic.load_config().bind(K)
    return any("phosphate" in f.tags for f in metastatic.evaluate(Given(snapshot), config, fd.NOW))


def phosphate_bands() -> list[Any]:
    rows = []
    for band in DATA["intervals"]["phosphate"]["bands"]:
        for sex in ("female", "male"):
            high = band[sex][1]
            for label, value, fires in (
                ("below", high - 0.1, False),
                ("at", high, False),
                ("above", high + 0.1, True),
            ):
                for unit in ("mg/dL", "mmol/L"):
                    # In mmol/L the limit itself is not a 4-decimal number: round toward the expected side.
                    to_side = math.ceil if fires else math.floor
                    shown = (
                        to_side(value * P_MOLAR_PER_MG * 1e4) / 1e4 if unit == "mmol/L" else round(value, 4)
                    )
                    rows.append(
                        pytest.param(
                            band["from"], sex, shown, unit, fires, id=f"{band['from']}-{sex}-{label}-{unit}"
                        )
                    )
    return rows


@pytest.mark.parametrize(("start", "sex", "value", "unit", "fires"), phosphate_bands())
def test_the_phosphate_card_at_each_bands_upper_limit_in_both_units(
    start: str, sex: str, value: float, unit: str, fires: bool
) -> None:
    assert phosphate_card(born(start), sex, value, unit) is fires


def test_a_teenagers_tumoral_pattern_is_seen_with_the_teenage_limit() -> None:
    """16 years, P 6.8 mg/dL, eGFR 110, PTH 20: was never judged (adult limits only, not under 18)."""
    when = f"{DAY.isoformat()}T08:00:00Z"
    earlier = f"{(DAY - timedelta(days=30)).isoformat()}T08:00:00Z"
    labs = [
        fd.lab(fd.PHOSPHATE_MASS, 6.8, "mg/dL", effectiveDateTime=when),
        fd.lab(fd.PHOSPHATE_MASS, 6.5, "mg/dL", effectiveDateTime=earlier),  # the confirming repeat
        fd.lab("33914-3", 110, "mL/min/{1.73_m2}", effectiveDateTime=when),
        fd.lab("2731-8", 20, "pg/mL", effectiveDateTime=when),
    ]
    patient = fd.patient("p1", "male", born("16y").isoformat())
    snapshot = build_snapshot("p1", [patient, fd.bundle(labs)], K, fd.NOW)
    assert tumoral.evaluate(Given(snapshot), tumoral.load_config().bind(K), fd.NOW) != []


def test_unknown_age_takes_the_adult_band_and_unknown_sex_the_wider_interval() -> None:
    adult = K.reference_intervals.interval("phosphate", None, "female", DAY)
    assert adult is not None
    assert (adult.high, adult.label) == (4.5, "adults")
    either = K.reference_intervals.interval("phosphate", born("14y"), None, DAY)
    assert either is not None
    assert (either.low, either.high) == (3.1, 5.5)


@pytest.mark.parametrize(
    ("bands", "error"),
    [
        ([{"from": "1d", "to": None}], "start at 0d"),
        ([{"from": "0d", "to": "1y"}], "end open"),
        ([{"from": "0d", "to": "1y"}, {"from": "2y", "to": None}], "contiguous"),
        ([{"from": "0d", "to": "2y"}, {"from": "2y", "to": "1y"}, {"from": "1y", "to": None}], "increasing"),
    ],
)
def test_a_broken_interval_file_stops_start_up(bands: list[dict[str, Any]], error: str) -> None:
    full = [b | {"label": "x", "female": [1, 2], "male": [1, 2], "citation": "c"} for b in bands]
    raw = {"intervals": {"phosphate": {"analytes": ["phosphate"], "unit": "mg/dL", "bands": full}}}
    with pytest.raises(ValueError, match=error):
        load_reference_intervals(raw, {"phosphate": "mg/dL"})


def test_the_unit_must_be_the_analytes_canonical_one() -> None:
    raw = {"intervals": {"phosphate": {"analytes": ["phosphate"], "unit": "mmol/L", "bands": []}}}
    raw["intervals"]["phosphate"]["bands"] = [
        {"from": "0d", "to": None, "label": "x", "female": [1, 2], "male": [1, 2], "citation": "c"}
    ]
    with pytest.raises(ValueError, match="not the unit of phosphate"):
        load_reference_intervals(raw, {"phosphate": "mg/dL"})


def test_a_patient_born_on_29_february_turns_a_year_older_on_28_february() -> None:
    snapshot_day = date(2027, 2, 28)
    interval = K.reference_intervals.interval("phosphate", date(2024, 2, 29), "male", snapshot_day)
    assert interval is not None
    assert interval.label == "2-12 years"
