"""Plausible ranges (terminology/data/analytes.json): at, just inside and just outside both limits, in the
canonical unit and in the analyte's other unit; a value outside is not used and says why, never rescaled."""

from __future__ import annotations

import pytest

from terminology.knowledge import Analyte, load_knowledge
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd

K = load_knowledge()
STEP = 1e-2  # relative: "just inside / just outside" (1 %, above the canonical rounding of 1e-4)


def verified_codes(analyte: Analyte) -> list[str]:
    return [code for system, code in K.codes_of(analyte.value_set) if (system, code) in K.analyte_by_code]


# Every analyte a result can be reported for (one with a verified code); the corrected calcium is derived.
MEASURED = [a for a in K.analytes.values() if verified_codes(a)]


def first_code(analyte: Analyte) -> str:
    return verified_codes(analyte)[0]


def cases() -> list[tuple[str, float, str, bool]]:
    rows = []
    for analyte in MEASURED:
        for limit, inside in ((analyte.plausible_low, 1 + STEP), (analyte.plausible_high, 1 - STEP)):
            outside = 2 - inside
            for unit, factor in ((analyte.canonical_unit, 1.0), *_alt(analyte)):
                if limit == 0:  # 0 is the lower limit: "just below" is negative, "just above" is tiny
                    rows += [(analyte.name, 0.0, unit, True), (analyte.name, -STEP, unit, False)]
                    rows.append((analyte.name, STEP * factor, unit, True))
                    continue
                rows += [
                    (analyte.name, limit * factor, unit, True),
                    (analyte.name, limit * inside * factor, unit, True),
                    (analyte.name, limit * outside * factor, unit, False),
                ]
    return rows


def _alt(analyte: Analyte) -> list[tuple[str, float]]:
    return [(analyte.alt_unit, K.alt_factors[analyte.name])] if analyte.alt_unit else []


@pytest.mark.parametrize(("analyte", "value", "unit", "used"), cases())
def test_plausible_limits_in_both_unit_systems(analyte: str, value: float, unit: str, used: bool) -> None:
    code = first_code(K.analytes[analyte])
    s = build_snapshot("p1", [fd.bundle([fd.lab(code, value, unit, oid="v")])], K, fd.NOW)
    reported = [r for r in s.series(analyte) if not r.is_derived]
    assert bool(reported) is used
    implausible = [i.resource_id for i in s.ignored if i.reason == "value-implausible"]
    assert implausible == ([] if used else ["v"])


@pytest.mark.parametrize(
    ("code", "value", "unit", "detail"),
    [
        (
            "1751-7",
            28,
            "g/dL",
            "28 g/dL is outside the plausible 0.5 to 7 g/dL; 28 g/L would be plausible: the unit may be "
            "wrong (not rescaled)",
        ),
        ("1751-7", -50, "g/dL", "-50 g/dL is outside the plausible 0.5 to 7 g/dL"),
        (
            fd.CALCIUM_MASS,
            120,
            "mg/dL",
            "120 mg/dL is outside the plausible 3 to 25 mg/dL; a factor of ten would make it plausible "
            "(not rescaled)",
        ),
        ("2160-0", 0, "mg/dL", "0 mg/dL is outside the plausible 0.05 to 40 mg/dL"),
        (
            "33914-3",
            0.5,
            "mL/min/{1.73_m2}",
            "0.5 mL/min/{1.73_m2} is outside the plausible 1 to 250 mL/min/1.73 m²; a factor of ten would "
            "make it plausible (not rescaled)",
        ),
    ],
)
def test_an_implausible_value_says_what_would_explain_it(
    code: str, value: float, unit: str, detail: str
) -> None:
    s = build_snapshot("p1", [fd.bundle([fd.lab(code, value, unit, oid="v")])], K, fd.NOW)
    assert [(i.reason, i.detail) for i in s.ignored] == [("value-implausible", detail)]


def test_an_implausible_albumin_never_corrects_a_calcium() -> None:
    s = build_snapshot(
        "p1",
        [fd.bundle([fd.lab(fd.CALCIUM_MASS, 12.8, "mg/dL"), fd.lab("1751-7", 28, "g/dL")])],
        K,
        fd.NOW,
    )
    assert s.series("calcium-albumin-corrected") == ()
    assert [r.value for r in s.series("calcium-total")] == [12.8]
