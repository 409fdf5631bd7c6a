"""Pathway tables: every threshold and window at, just below and just above, in both unit systems.

Snapshots are built from FHIR JSON with ``build_snapshot`` at the fixed clock ``NOW`` and each module's
``evaluate(snapshot, config, NOW)`` is called with its bound config. Threshold values and windows are read
from the rules' data files (``cards/data/*.json``); each row still states its expected outcome explicitly.
Rows in a second unit are literal reported values, with the canonical value after conversion in a comment;
``test_tables_were_written_for_these_thresholds`` fails when a threshold moves, so the rows get reviewed.

Finally the combination rules (``cards/combine.py``) on findings the real rules produce.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from types import ModuleType
from typing import Any

import pytest

from cards import calciphylaxis, dystrophic, iatrogenic, known_calcinosis, metastatic, missing_data, tumoral
from cards import combine as combining
from cards.catalog import pathway
from cards.config import RuleConfig, Threshold
from cards.data_files import read_data
from cards.finding import Finding
from cards.given import Given
from terminology.knowledge import load_knowledge
from terminology.snapshot import PatientSnapshot
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd
from tests import scenario_data as sd

K = load_knowledge()
# The chart-open service as declared (cards/data/service.json): its pathways and how it combines them.
CHART_OPEN = read_data("service.json")["services"][0]
PATHWAYS = [pathway(name, K) for name in CHART_OPEN["pathways"]]
COMBINATION = combining.Combination.of(CHART_OPEN, {p.config.rule.id for p in PATHWAYS}, "service.json")


def combine(findings: list[Finding]) -> list[Finding]:
    return combining.combine(findings, COMBINATION)


NOW = fd.NOW
PID = "p1"
Resource = dict[str, Any]

# LOINC codes (tests may name codes; rule code may not).
CA_MASS, CA_MOLAR, CORRECTED = "17861-6", "2000-8", "29265-6"
ION_MOLAR, ION_MASS = "1995-0", "17864-0"
P_MASS, P_MOLAR = "2777-1", "14879-1"
ALBUMIN, EGFR, BMI = "1751-7", "98979-8", "39156-5"
PTH_MASS, PTH_MOLAR = "2731-8", "14866-8"
CREATININE, VITAMIN_D = "2160-0", "1989-3"
GFR_UNIT = "mL/min/{1.73_m2}"


@cache
def config(module: ModuleType) -> RuleConfig:
    bound: RuleConfig = module.load_config().bind(K)
    return bound


def snapshot(*resources: Resource, gender: str = "male", birth: str = "1960-04-02") -> PatientSnapshot:
    return build_snapshot(PID, [sd.patient(PID, gender, birth), fd.bundle(list(resources))], K, NOW)


def evaluate(module: ModuleType, *resources: Resource, **patient: str) -> list[Finding]:
    findings: list[Finding] = module.evaluate(Given(snapshot(*resources, **patient)), config(module), NOW)
    return findings


def all_findings(*resources: Resource, **patient: str) -> list[Finding]:
    snap = snapshot(*resources, **patient)
    return [f for rule in PATHWAYS for f in rule.evaluate(Given(snap), rule.config, NOW)]


def lab(code: str, value: float, unit: str, days_ago: float = 1, oid: str | None = None) -> Resource:
    return fd.lab(code, value, unit, pid=PID, days_ago=days_ago, oid=oid)


def limit(module: ModuleType, name: str) -> Threshold:
    """Threshold ``name`` as it applies to the tables' patient (a man born 1960): reference-interval
    thresholds resolve to the adult band."""
    resolved = config(module).limit(name, snapshot(), NOW.date())
    assert resolved is not None
    return resolved


def threshold(module: ModuleType, name: str) -> float:
    value = limit(module, name).value
    assert value is not None
    return value


def window(module: ModuleType, name: str) -> int:
    days: int = config(module).windows[name].value
    return days


def rule_ids(findings: list[Finding]) -> list[str]:
    return [f.rule.id for f in findings]


def test_tables_were_written_for_these_thresholds() -> None:
    """The literal rows in a second unit assume these values (issue 4); review them if this fails."""
    written_for = {
        (calciphylaxis, "calciumAboveNormal"): (10.5, "mg/dL", ">"),
        (calciphylaxis, "phosphateAboveNormal"): (4.5, "mg/dL", ">"),
        (calciphylaxis, "pthAboveDialysisTarget"): (585.0, "pg/mL", ">"),
        (calciphylaxis, "albuminLow"): (3.5, "g/dL", "<"),
        (calciphylaxis, "bmiObese"): (30.0, "kg/m2", ">="),
        (tumoral, "phosphateAboveNormal"): (4.5, "mg/dL", ">"),
        (tumoral, "egfrPreserved"): (60.0, GFR_UNIT, ">="),
        (tumoral, "pthAtOrBelowUpperLimit"): (65.0, "pg/mL", "<="),
        (metastatic, "phosphateAboveNormal"): (4.5, "mg/dL", ">"),
    }
    for (module, name), (value, unit, comparison) in written_for.items():
        t = limit(module, name)
        assert (t.value, t.unit, t.comparison) == (value, unit, comparison), (module.__name__, name)
    ionized = config(calciphylaxis).thresholds["ionizedAboveNormal"]
    assert (ionized.unit, ionized.comparison) == ("mmol/L", ">")
    assert 1.30 <= ionized.value <= 1.33  # the mg/dL rows below (5.2 and 5.4 mg/dL) straddle this range
    assert window(iatrogenic, "exposure") == 14  # issue 4: "default 14 days"


# --- calciphylaxis: a man on dialysis with no other factor, plus the one factor under test -----------------

DIALYSIS = sd.dialysis_dependence("cx-dialysis", PID)
# The offset from the threshold, in the threshold's own unit, that makes "just below" and "just above".
STEP = 0.1


def calciphylaxis_factors(*resources: Resource, gender: str = "male") -> int:
    """How many risk factors the calciphylaxis rule counts (0 when it gives no finding)."""
    findings = evaluate(calciphylaxis, DIALYSIS, *resources, gender=gender)
    if not findings:
        return 0
    assert len(findings) == 1
    count = int(findings[0].summary.split(": ", 1)[1].split(" ", 1)[0])
    return count


def test_calciphylaxis_baseline_has_no_factor() -> None:
    assert evaluate(calciphylaxis, DIALYSIS, lab(ALBUMIN, 4.0, "g/dL")) == []


def test_calciphylaxis_background_factors_alone_give_no_card() -> None:
    """Issue 13: every woman on dialysis got a warning for her sex alone."""
    diabetes = sd.condition("cx-dm", PID, sd.ICD10, "E11.9", "Type 2 diabetes mellitus without complications")
    assert calciphylaxis_factors(gender="female") == 0
    assert calciphylaxis_factors(diabetes, gender="female") == 0
    warfarin = sd.medication_request("cx-warf", PID, "Warfarin Sodium 5 MG Oral Tablet", 30, rxnorm="855332")
    assert calciphylaxis_factors(diabetes, warfarin, gender="female") == 3


@pytest.mark.parametrize(
    ("offset", "expected"), [(-STEP, False), (0.0, False), (STEP, True)], ids=["below", "at", "above"]
)
def test_calciphylaxis_corrected_calcium_at_threshold_mg_dl(offset: float, expected: bool) -> None:
    value = round(threshold(calciphylaxis, "calciumAboveNormal") + offset, 4)
    # With albumin 4.0 g/dL on the same day, the corrected calcium equals the total calcium.
    assert calciphylaxis_factors(lab(CA_MASS, value, "mg/dL"), lab(ALBUMIN, 4.0, "g/dL")) == int(expected)
    assert calciphylaxis_factors(lab(CORRECTED, value, "mg/dL")) == int(expected)


@pytest.mark.parametrize(
    ("mmol_l", "expected"),
    [
        (2.60, False),  # 10.42 mg/dL
        (2.61, False),  # 10.46 mg/dL
        (2.62, True),  # 10.5004 mg/dL: the first 2-decimal value above 10.5 mg/dL
        (2.65, True),  # 10.62 mg/dL
    ],
)
def test_calciphylaxis_corrected_calcium_at_threshold_mmol_l(mmol_l: float, expected: bool) -> None:
    assert calciphylaxis_factors(lab(CA_MOLAR, mmol_l, "mmol/L"), lab(ALBUMIN, 4.0, "g/dL")) == int(expected)


def test_calciphylaxis_uncorrected_total_calcium_is_not_a_factor() -> None:
    assert calciphylaxis_factors(lab(CA_MASS, 11.5, "mg/dL")) == 0


@pytest.mark.parametrize(
    ("offset", "expected"), [(-0.01, False), (0.0, False), (0.01, True)], ids=["below", "at", "above"]
)
def test_calciphylaxis_ionized_calcium_at_threshold_mmol_l(offset: float, expected: bool) -> None:
    value = round(threshold(calciphylaxis, "ionizedAboveNormal") + offset, 4)
    assert calciphylaxis_factors(lab(ION_MOLAR, value, "mmol/L")) == int(expected)


@pytest.mark.parametrize(
    ("mg_dl", "expected"),
    [
        (5.2, False),  # 1.2975 mmol/L
        (5.4, True),  # 1.3474 mmol/L
    ],
)
def test_calciphylaxis_ionized_calcium_in_mg_dl(mg_dl: float, expected: bool) -> None:
    assert calciphylaxis_factors(lab(ION_MASS, mg_dl, "mg/dL")) == int(expected)


PHOSPHATE_MMOL_ROWS = [
    (1.45, False),  # 4.4912 mg/dL
    (1.452, False),  # 4.4974 mg/dL
    (1.453, True),  # 4.5005 mg/dL: 4.5 mg/dL is 1.4528 mmol/L, so 1.453 is just above
    (1.46, True),  # 4.5222 mg/dL
]


@pytest.mark.parametrize(
    ("offset", "expected"), [(-STEP, False), (0.0, False), (STEP, True)], ids=["below", "at", "above"]
)
def test_calciphylaxis_phosphate_at_threshold_mg_dl(offset: float, expected: bool) -> None:
    value = round(threshold(calciphylaxis, "phosphateAboveNormal") + offset, 4)
    assert calciphylaxis_factors(lab(P_MASS, value, "mg/dL")) == int(expected)


@pytest.mark.parametrize(("mmol_l", "expected"), PHOSPHATE_MMOL_ROWS)
def test_calciphylaxis_phosphate_in_mmol_l(mmol_l: float, expected: bool) -> None:
    assert calciphylaxis_factors(lab(P_MOLAR, mmol_l, "mmol/L")) == int(expected)


@pytest.mark.parametrize(
    ("offset", "expected"), [(-1.0, False), (0.0, False), (1.0, True)], ids=["below", "at", "above"]
)
def test_calciphylaxis_pth_at_threshold_pg_ml(offset: float, expected: bool) -> None:
    value = threshold(calciphylaxis, "pthAboveDialysisTarget") + offset
    assert calciphylaxis_factors(lab(PTH_MASS, value, "pg/mL")) == int(expected)


@pytest.mark.parametrize(
    ("pmol_l", "expected"),
    [
        (62.0, False),  # 584.35 pg/mL
        (62.06, False),  # 584.92 pg/mL
        (62.07, True),  # 585.01 pg/mL: 585 pg/mL is 62.069 pmol/L, so 62.07 is just above
        (62.1, True),  # 585.29 pg/mL
    ],
)
def test_calciphylaxis_pth_in_pmol_l(pmol_l: float, expected: bool) -> None:
    assert calciphylaxis_factors(lab(PTH_MOLAR, pmol_l, "pmol/L")) == int(expected)


@pytest.mark.parametrize(
    ("offset", "expected"), [(-STEP, True), (0.0, False), (STEP, False)], ids=["below", "at", "above"]
)
def test_calciphylaxis_albumin_at_threshold_g_dl(offset: float, expected: bool) -> None:
    value = round(threshold(calciphylaxis, "albuminLow") + offset, 4)
    assert calciphylaxis_factors(lab(ALBUMIN, value, "g/dL")) == int(expected)


@pytest.mark.parametrize(
    ("g_l", "expected"),
    [
        (34.9, True),  # 3.49 g/dL
        (35.0, False),  # 3.5 g/dL exactly: not below
        (35.1, False),  # 3.51 g/dL
    ],
)
def test_calciphylaxis_albumin_in_g_l(g_l: float, expected: bool) -> None:
    assert calciphylaxis_factors(lab(ALBUMIN, g_l, "g/L")) == int(expected)


@pytest.mark.parametrize(
    ("offset", "expected"), [(-STEP, False), (0.0, True), (STEP, True)], ids=["below", "at", "above"]
)
def test_calciphylaxis_bmi_at_threshold(offset: float, expected: bool) -> None:
    value = round(threshold(calciphylaxis, "bmiObese") + offset, 4)
    assert calciphylaxis_factors(lab(BMI, value, "kg/m2")) == int(expected)


def test_calciphylaxis_counts_each_factor_once_with_its_evidence() -> None:
    findings = evaluate(
        calciphylaxis,
        DIALYSIS,
        lab(P_MASS, 6.0, "mg/dL", oid="cx-p"),
        lab(ALBUMIN, 3.0, "g/dL", oid="cx-alb"),
        lab(BMI, 31.0, "kg/m2", oid="cx-bmi"),
        sd.condition("cx-dm", PID, sd.ICD10, "E11.9", "Type 2 diabetes mellitus without complications"),
        sd.medication_request("cx-warf", PID, "Warfarin Sodium 5 MG Oral Tablet", 30, rxnorm="855332"),
        gender="female",
    )
    assert [f.summary for f in findings] == [
        "Calciphylaxis risk: 6 risk factors on dialysis; examine the skin"
    ]
    sources = {e.reference for e in findings[0].evidence}
    expected = {"Observation/cx-p", "Observation/cx-alb", "Observation/cx-bmi", "Condition/cx-dm"}
    assert expected | {f"Patient/{PID}", "MedicationRequest/cx-warf"} <= sources
    assert findings[0].indicator == "warning"


@pytest.mark.parametrize(
    ("kidney", "expected"),
    [
        (sd.condition("k", PID, sd.ICD10, "N18.4", "Chronic kidney disease, stage 4 (severe)"), None),
        (
            sd.condition("k", PID, sd.ICD10, "N18.5", "Chronic kidney disease, stage 5"),
            "in kidney failure (CKD G5)",
        ),
        (sd.condition("k", PID, sd.ICD10, "N18.6", "End stage renal disease"), "in kidney failure (CKD G5)"),
        (sd.hemodialysis("k", PID, 10), "on dialysis"),
    ],
    ids=["ckd4", "ckd5", "esrd", "hemodialysis"],
)
def test_calciphylaxis_only_in_kidney_failure(kidney: Resource, expected: str | None) -> None:
    findings = evaluate(calciphylaxis, kidney, lab(P_MASS, 6.0, "mg/dL"))
    if expected is None:
        assert findings == []
    else:
        assert [f.summary for f in findings] == [
            f"Calciphylaxis risk: 1 risk factor {expected}; examine the skin"
        ]


@pytest.mark.parametrize(
    ("text", "rxnorm", "route"),
    [
        ("Hydrocortisone 1 % Topical Cream", None, (sd.SNOMED, "6064005", "Topical route")),
        ("Hydrocortisone 1 % Topical Cream", "5492", (sd.SNOMED, "6064005", "Topical route")),
        (
            "Budesonide 0.5 MG/ML Inhalation Suspension",
            None,
            (sd.SNOMED, "447694001", "Respiratory tract route"),
        ),
    ],
    ids=["topical-text", "topical-rxnorm", "inhaled"],
)
def test_calciphylaxis_ignores_non_systemic_corticosteroids(
    text: str, rxnorm: str | None, route: tuple[str, str, str]
) -> None:
    steroid = sd.medication_request("steroid", PID, text, 5, rxnorm=rxnorm, route=route)
    assert calciphylaxis_factors(steroid) == 0


def test_calciphylaxis_counts_an_oral_corticosteroid() -> None:
    prednisone = sd.medication_request("pred", PID, "Prednisone 5 MG Oral Tablet", 5, route=sd.ROUTE_ORAL)
    assert calciphylaxis_factors(prednisone) == 1


# --- tumoral pattern: confirmed high phosphate, eGFR >= 60, PTH 15-65, all on record -----------------------


def confirmed(phosphate: Resource) -> list[Resource]:
    """The phosphate and a repeat of the same value 30 days earlier (the pattern needs a confirmed repeat)."""
    repeat = {**phosphate, "id": f"{phosphate['id']}-repeat"}
    repeat["effectiveDateTime"] = (NOW - timedelta(days=30)).isoformat()
    return [phosphate, repeat]


def tumoral_fires(phosphate: Resource, egfr: Resource, pth: Resource) -> bool:
    findings = evaluate(tumoral, *confirmed(phosphate), egfr, pth)
    assert len(findings) <= 1
    return bool(findings)


HIGH_P = lab(P_MASS, 5.5, "mg/dL")
GOOD_EGFR = lab(EGFR, 90.0, GFR_UNIT)
LOW_PTH = lab(PTH_MASS, 30.0, "pg/mL")  # normal: not high, not low


def test_tumoral_pattern_needs_all_three_results() -> None:
    assert tumoral_fires(HIGH_P, GOOD_EGFR, LOW_PTH)
    assert evaluate(tumoral, *confirmed(HIGH_P), GOOD_EGFR) == []
    assert evaluate(tumoral, *confirmed(HIGH_P), LOW_PTH) == []
    assert evaluate(tumoral, GOOD_EGFR, LOW_PTH) == []


def test_tumoral_pattern_needs_a_confirmed_repeat() -> None:
    """Issue 13: a healthy adult with one phosphate of 4.7 got the tumoral card."""
    assert evaluate(tumoral, lab(P_MASS, 4.7, "mg/dL"), GOOD_EGFR, LOW_PTH) == []
    same_day = {**HIGH_P, "id": "same-day", "effectiveDateTime": HIGH_P["effectiveDateTime"]}
    assert evaluate(tumoral, HIGH_P, same_day, GOOD_EGFR, LOW_PTH) == []
    normal_before = lab(P_MASS, 3.5, "mg/dL", days_ago=30)
    assert evaluate(tumoral, HIGH_P, normal_before, GOOD_EGFR, LOW_PTH) == []
    assert tumoral_fires(lab(P_MASS, 4.7, "mg/dL"), GOOD_EGFR, LOW_PTH)


def test_hypoparathyroidism_is_not_the_tumoral_pattern() -> None:
    """Issue 13: PTH 6, Ca 7.4, P 5.6 was labelled tumoral calcinosis and FGF23 proposed."""
    low_pth = lab(PTH_MASS, 6.0, "pg/mL")
    assert (
        evaluate(
            tumoral, *confirmed(lab(P_MASS, 5.6, "mg/dL")), lab(CA_MASS, 7.4, "mg/dL"), GOOD_EGFR, low_pth
        )
        == []
    )


@pytest.mark.parametrize(
    ("offset", "expected"), [(-STEP, False), (0.0, True), (STEP, True)], ids=["below", "at", "above"]
)
def test_tumoral_pth_lower_limit_pg_ml(offset: float, expected: bool) -> None:
    value = round(threshold(tumoral, "pthAtOrAboveLowerLimit") + offset, 4)
    assert tumoral_fires(HIGH_P, GOOD_EGFR, lab(PTH_MASS, value, "pg/mL")) is expected


@pytest.mark.parametrize(
    ("pmol_l", "expected"),
    [
        (1.58, False),  # 14.89 pg/mL
        (1.59, False),  # 14.99 pg/mL
        (1.592, True),  # 15.005 pg/mL: 15 pg/mL is 1.5915 pmol/L
        (1.6, True),  # 15.08 pg/mL
    ],
)
def test_tumoral_pth_lower_limit_in_pmol_l(pmol_l: float, expected: bool) -> None:
    assert tumoral_fires(HIGH_P, GOOD_EGFR, lab(PTH_MOLAR, pmol_l, "pmol/L")) is expected


@pytest.mark.parametrize(
    ("offset", "expected"), [(-STEP, False), (0.0, False), (STEP, True)], ids=["below", "at", "above"]
)
def test_tumoral_phosphate_at_threshold_mg_dl(offset: float, expected: bool) -> None:
    value = round(threshold(tumoral, "phosphateAboveNormal") + offset, 4)
    assert tumoral_fires(lab(P_MASS, value, "mg/dL"), GOOD_EGFR, LOW_PTH) is expected


@pytest.mark.parametrize(("mmol_l", "expected"), PHOSPHATE_MMOL_ROWS)
def test_tumoral_phosphate_in_mmol_l(mmol_l: float, expected: bool) -> None:
    assert tumoral_fires(lab(P_MOLAR, mmol_l, "mmol/L"), GOOD_EGFR, LOW_PTH) is expected


@pytest.mark.parametrize(
    ("offset", "expected"), [(-STEP, False), (0.0, True), (STEP, True)], ids=["below", "at", "above"]
)
def test_tumoral_egfr_at_threshold(offset: float, expected: bool) -> None:
    value = round(threshold(tumoral, "egfrPreserved") + offset, 4)
    assert tumoral_fires(HIGH_P, lab(EGFR, value, GFR_UNIT), LOW_PTH) is expected


@pytest.mark.parametrize(
    ("offset", "expected"), [(-STEP, True), (0.0, True), (STEP, False)], ids=["below", "at", "above"]
)
def test_tumoral_pth_at_threshold_pg_ml(offset: float, expected: bool) -> None:
    value = round(threshold(tumoral, "pthAtOrBelowUpperLimit") + offset, 4)
    assert tumoral_fires(HIGH_P, GOOD_EGFR, lab(PTH_MASS, value, "pg/mL")) is expected


@pytest.mark.parametrize(
    ("pmol_l", "expected"),
    [
        (6.89, True),  # 64.94 pg/mL
        (6.896, True),  # 64.99 pg/mL
        (6.897, False),  # 65.004 pg/mL: 65 pg/mL is 6.8966 pmol/L, so 6.897 is just above
        (6.9, False),  # 65.03 pg/mL
    ],
)
def test_tumoral_pth_in_pmol_l(pmol_l: float, expected: bool) -> None:
    assert tumoral_fires(HIGH_P, GOOD_EGFR, lab(PTH_MOLAR, pmol_l, "pmol/L")) is expected


def test_tumoral_pattern_with_an_egfr_computed_from_creatinine() -> None:
    creatinine = lab(CREATININE, 0.9, "mg/dL")  # CKD-EPI 2021, man aged 66: about 93
    assert evaluate(tumoral, *confirmed(HIGH_P), creatinine, LOW_PTH) != []
    assert evaluate(tumoral, *confirmed(HIGH_P), lab(CREATININE, 2.0, "mg/dL"), LOW_PTH) == []  # about 36


HYPERCALCEMIA_11 = [lab(CA_MASS, 11.0, "mg/dL"), lab(ALBUMIN, 4.0, "g/dL")]


# --- metastatic: phosphate in both units (the calcium grades are in tests/test_metastatic.py) -------------


@pytest.mark.parametrize(
    ("offset", "expected"), [(-STEP, False), (0.0, False), (STEP, True)], ids=["below", "at", "above"]
)
def test_metastatic_phosphate_at_threshold_mg_dl(offset: float, expected: bool) -> None:
    value = round(threshold(metastatic, "phosphateAboveNormal") + offset, 4)
    findings = evaluate(metastatic, lab(P_MASS, value, "mg/dL"))
    assert [("phosphate" in f.tags) for f in findings] == ([True] if expected else [])


@pytest.mark.parametrize(("mmol_l", "expected"), PHOSPHATE_MMOL_ROWS)
def test_metastatic_phosphate_in_mmol_l(mmol_l: float, expected: bool) -> None:
    findings = evaluate(metastatic, lab(P_MOLAR, mmol_l, "mmol/L"))
    assert [("phosphate" in f.tags) for f in findings] == ([True] if expected else [])


@pytest.mark.parametrize(
    ("mmol_l", "expected"),
    [
        (1.45, "info"),  # CTCAE grade 1 (> upper limit to 1.5 mmol/L): mild
        (1.6, "info"),  # at the moderate limit (> 1.6): still mild
        (1.61, "warning"),  # CTCAE grade 3 starts above 1.6: moderate
        (1.8, "warning"),  # at the severe limit (> 1.8): still moderate
        (1.81, "critical"),  # CTCAE grade 4 (> 1.8 mmol/L): severe
        (2.6, "critical"),
    ],
)
def test_metastatic_ionized_hypercalcemia_indicator_rises_with_severity(mmol_l: float, expected: str) -> None:
    findings = evaluate(metastatic, lab(ION_MOLAR, mmol_l, "mmol/L"))
    assert [f.indicator for f in findings] == [expected]


@pytest.mark.parametrize(
    ("name", "code", "unit", "step", "above_is_contributor"),
    [
        ("pthAboveNormal", PTH_MASS, "pg/mL", 1.0, True),
        ("vitaminDToxic", VITAMIN_D, "ng/mL", 1.0, True),
        ("egfrBelow30", EGFR, GFR_UNIT, 1.0, False),
    ],
)
@pytest.mark.parametrize("position", ["below", "at", "above"])
def test_metastatic_contributors_at_threshold(
    name: str, code: str, unit: str, step: float, above_is_contributor: bool, position: str
) -> None:
    t = config(metastatic).thresholds[name]
    value = t.value + {"below": -step, "at": 0.0, "above": step}[position]
    # "at" is never a contributor: PTH and vitamin D count when strictly above, eGFR when strictly below.
    expected = position == ("above" if above_is_contributor else "below")
    findings = evaluate(metastatic, *HYPERCALCEMIA_11, lab(code, value, unit))
    text = config(metastatic).text
    shown = K.presenter.amount(t.analyte, t.cited_value, t.unit)
    reason = {
        "pthAboveNormal": text["reasonPth"].format(limit=shown),
        # With hypercalcemia a toxic 25-OH vitamin D is named as vitamin D toxicity (issue 13).
        "vitaminDToxic": text["reasonVitaminDToxicity"].format(
            value=K.presenter.amount(t.analyte, value, t.unit), limit=shown
        ),
        "egfrBelow30": text["reasonCkd"].format(what="eGFR below 30"),
    }[name]
    assert len(findings) == 1
    assert (reason in findings[0].reasons) is expected


# --- windows ----------------------------------------------------------------------------------------------


def day_rows(days: int) -> list[tuple[int, bool]]:
    """(days ago, inside the window) just inside, at and just outside a window of ``days`` days."""
    return [(days - 1, True), (days, True), (days + 1, False)]


IATROGENIC_DAYS = window(iatrogenic, "exposure")


@pytest.mark.parametrize(
    ("days_ago", "inside"), day_rows(IATROGENIC_DAYS), ids=["day-13", "day-14", "day-15"]
)
def test_iatrogenic_window_for_administrations(days_ago: int, inside: bool) -> None:
    given = sd.medication_administration("ivca", PID, "Calcium gluconate 10% IV infusion", days_ago)
    findings = evaluate(iatrogenic, given)
    assert bool(findings) is inside
    if inside:
        assert findings[0].indicator == "info"
        assert [e.reference for e in findings[0].evidence] == ["MedicationAdministration/ivca"]


@pytest.mark.parametrize(
    ("days_ago", "inside"), day_rows(IATROGENIC_DAYS), ids=["day-13", "day-14", "day-15"]
)
def test_iatrogenic_window_for_orders(days_ago: int, inside: bool) -> None:
    ordered = sd.medication_request(
        "ivp", PID, "Potassium Phosphates 3 MMOL/ML Injectable Solution", days_ago, route=sd.ROUTE_IV
    )
    assert bool(evaluate(iatrogenic, ordered)) is inside


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (sd.ROUTE_IV, True),
        ((sd.SNOMED, "419993007", "Intravenous peripheral route"), True),
        (sd.ROUTE_ORAL, False),
        (None, False),  # no route: the drug name never decides the route
    ],
    ids=["iv", "iv-peripheral", "oral", "no-route"],
)
def test_iatrogenic_needs_an_intravenous_route(route: tuple[str, str, str] | None, expected: bool) -> None:
    given = sd.medication_administration("ca", PID, "Calcium gluconate 1 g", 2, route=route)
    assert bool(evaluate(iatrogenic, given)) is expected


CX_MED_DAYS = window(calciphylaxis, "medications")
CX_WORKUP_DAYS = window(calciphylaxis, "workup")


@pytest.mark.parametrize(("days_ago", "inside"), day_rows(CX_MED_DAYS), ids=["day-179", "day-180", "day-181"])
def test_calciphylaxis_medication_window_for_a_stopped_order(days_ago: int, inside: bool) -> None:
    stopped = sd.medication_request("w", PID, "Warfarin Sodium 5 MG Oral Tablet", days_ago, status="stopped")
    assert calciphylaxis_factors(stopped) == int(inside)
    active = sd.medication_request("w", PID, "Warfarin Sodium 5 MG Oral Tablet", days_ago, status="active")
    assert calciphylaxis_factors(active) == 1  # still active: counts whenever it was ordered


@pytest.mark.parametrize(("days_ago", "inside"), day_rows(CX_WORKUP_DAYS), ids=["day-89", "day-90", "day-91"])
def test_calciphylaxis_workup_window(days_ago: int, inside: bool) -> None:
    labs = [
        lab(CA_MASS, 9.4, "mg/dL", days_ago=days_ago),
        lab(P_MASS, 4.0, "mg/dL", days_ago=days_ago),
        lab(ALBUMIN, 4.0, "g/dL", days_ago=days_ago),
        lab(PTH_MASS, 200.0, "pg/mL", days_ago=days_ago),
    ]
    warfarin = sd.medication_request("cx-warf", PID, "Warfarin Sodium 5 MG Oral Tablet", 30, rxnorm="855332")
    findings = evaluate(calciphylaxis, DIALYSIS, *labs, warfarin, gender="female")
    assert len(findings) == 1
    assert findings[0].workup == (() if inside else config(calciphylaxis).workup)


WORKUP = [
    (CA_MASS, 9.5, "mg/dL"),
    (ALBUMIN, 4.2, "g/dL"),
    (P_MASS, 3.4, "mg/dL"),
    (CREATININE, 0.8, "mg/dL"),
    (PTH_MASS, 40.0, "pg/mL"),
    (VITAMIN_D, 32.0, "ng/mL"),
]
CALCINOSIS = sd.condition("cc", PID, sd.ICD10, "L94.2", "Calcinosis cutis")
KNOWN_DAYS = window(known_calcinosis, "workup")


@pytest.mark.parametrize(("days_ago", "inside"), day_rows(KNOWN_DAYS), ids=["day-364", "day-365", "day-366"])
def test_known_calcinosis_workup_window(days_ago: int, inside: bool) -> None:
    labs = [lab(code, value, unit, days_ago=days_ago) for code, value, unit in WORKUP]
    findings = evaluate(known_calcinosis, CALCINOSIS, *labs)
    if inside:
        assert findings == []
    else:
        assert [f.summary for f in findings] == [
            "Calcinosis cutis on record: 6 basic tests missing in the last year"
        ]


@pytest.mark.parametrize("missing", range(len(WORKUP)))
def test_known_calcinosis_suggests_exactly_the_missing_test(missing: int) -> None:
    labs = [
        lab(code, value, unit, days_ago=KNOWN_DAYS + 30 if i == missing else 10)
        for i, (code, value, unit) in enumerate(WORKUP)
    ]
    findings = evaluate(known_calcinosis, CALCINOSIS, *labs)
    expected = config(known_calcinosis).workup[missing]
    # the radiograph of the site comes with the card, never on its own (we cannot see imaging)
    assert [f.workup for f in findings] == [(expected, "skin-imaging")]
    assert findings[0].summary == "Calcinosis cutis on record: 1 basic test missing in the last year"


def test_known_calcinosis_needs_a_present_diagnosis() -> None:
    resolved = sd.condition("cc", PID, sd.ICD10, "L94.2", "Calcinosis cutis", clinical="resolved")
    refuted = sd.condition("cc", PID, sd.ICD10, "L94.2", "Calcinosis cutis", verification="refuted")
    assert evaluate(known_calcinosis, resolved) == []
    assert evaluate(known_calcinosis, refuted) == []
    assert evaluate(known_calcinosis, CALCINOSIS) != []


DIALYSIS_DAYS = window(missing_data, "dialysis")


@pytest.mark.parametrize(("days_ago", "inside"), day_rows(DIALYSIS_DAYS), ids=["day-89", "day-90", "day-91"])
def test_missing_data_window_on_dialysis(days_ago: int, inside: bool) -> None:
    labs = [lab(CA_MASS, 9.4, "mg/dL", days_ago=days_ago), lab(P_MASS, 4.0, "mg/dL", days_ago=days_ago)]
    findings = evaluate(missing_data, DIALYSIS, *labs)
    if inside:
        assert findings == []
    else:
        assert [(f.indicator, f.workup) for f in findings] == [("info", ("calcium", "phosphate"))]
        assert findings[0].summary == f"No calcium or phosphate in the last {DIALYSIS_DAYS} days on dialysis"


@pytest.mark.parametrize(
    ("setting", "window_name"),
    [
        (sd.condition("ckd4", PID, sd.ICD10, "N18.4", "Chronic kidney disease, stage 4 (severe)"), "ckd4"),
        (sd.condition("ckd5", PID, sd.ICD10, "N18.5", "Chronic kidney disease, stage 5"), "ckd5"),
        (sd.condition("ssc", PID, sd.ICD10, "M34.9", "Systemic sclerosis, unspecified"), "ctd"),
    ],
    ids=["ckd4", "ckd5", "ssc"],
)
@pytest.mark.parametrize("offset", [-1, 0, 1], ids=["inside", "at-edge", "outside"])
def test_missing_data_window_by_setting(setting: Resource, window_name: str, offset: int) -> None:
    days_ago = window(missing_data, window_name) + offset
    labs = [lab(CA_MASS, 9.4, "mg/dL", days_ago=days_ago), lab(P_MASS, 4.0, "mg/dL", days_ago=days_ago)]
    assert bool(evaluate(missing_data, setting, *labs)) is (offset > 0)


def test_missing_data_windows_follow_kdigo_intervals() -> None:
    assert {name: window(missing_data, name) for name in ("dialysis", "ckd5", "ckd4", "ctd")} == {
        "dialysis": 90,
        "ckd5": 90,
        "ckd4": 180,
        "ctd": 365,
    }


def test_missing_data_suggests_only_the_missing_test() -> None:
    findings = evaluate(missing_data, DIALYSIS, lab(CA_MASS, 9.4, "mg/dL", days_ago=5))
    assert [f.workup for f in findings] == [("phosphate",)]


def test_missing_data_needs_a_high_risk_setting() -> None:
    assert evaluate(missing_data) == []
    stage3 = sd.condition("ckd3", PID, sd.ICD10, "N18.30", "Chronic kidney disease, stage 3 unspecified")
    assert evaluate(missing_data, stage3) == []


# --- combining findings -----------------------------------------------------------------------------------

SSC = sd.condition("ssc", PID, sd.ICD10, "M34.1", "CR(E)ST syndrome")  # no date: not a new diagnosis
NEW_SSC = sd.condition(
    "ssc", PID, sd.ICD10, "M34.1", "CR(E)ST syndrome", onset=(NOW - timedelta(days=20)).date().isoformat()
)
HYPERCALCEMIA = [lab(CA_MASS, 11.5, "mg/dL"), lab(ALBUMIN, 4.0, "g/dL")]


def test_dystrophic_is_dropped_when_metastatic_fires() -> None:
    findings = all_findings(NEW_SSC, *HYPERCALCEMIA, lab(P_MASS, 3.5, "mg/dL"))
    assert set(rule_ids(findings)) == {"metastatic-calcification", "dystrophic-calcinosis-ctd"}
    assert rule_ids(combine(findings)) == ["metastatic-calcification"]


NORMAL_LABS = [lab(CA_MASS, 9.4, "mg/dL"), lab(ALBUMIN, 4.0, "g/dL"), lab(P_MASS, 3.5, "mg/dL")]


def test_dystrophic_speaks_for_a_new_diagnosis_when_calcium_and_phosphate_are_normal() -> None:
    assert rule_ids(combine(all_findings(NEW_SSC, *NORMAL_LABS))) == ["dystrophic-calcinosis-ctd"]


def test_dystrophic_is_silent_when_there_is_nothing_to_do() -> None:
    """Issue 13: the surveillance card appeared on every chart open of every lupus or SSc patient."""
    assert rule_ids(combine(all_findings(SSC, *NORMAL_LABS))) == []
    old = sd.condition("ssc", PID, sd.ICD10, "M34.1", "CR(E)ST syndrome", onset="2015-03-01")
    assert rule_ids(combine(all_findings(old, *NORMAL_LABS))) == []
    due = [lab(CA_MASS, 9.4, "mg/dL", days_ago=400), lab(P_MASS, 3.5, "mg/dL", days_ago=400)]
    [card] = combine(all_findings(old, *due))
    assert (card.rule.id, card.workup) == ("dystrophic-calcinosis-ctd", ("calcium", "phosphate"))


@pytest.mark.parametrize(("days_ago", "new"), [(89, True), (90, True), (91, False)])
def test_dystrophic_new_diagnosis_window(days_ago: int, new: bool) -> None:
    onset = (NOW - timedelta(days=days_ago)).date().isoformat()
    ssc = sd.condition("ssc", PID, sd.ICD10, "M34.1", "CR(E)ST syndrome", onset=onset)
    assert bool(evaluate(dystrophic, ssc, *NORMAL_LABS)) is new


def test_dystrophic_is_dropped_when_known_calcinosis_workup_fires() -> None:
    findings = all_findings(SSC, CALCINOSIS)
    assert rule_ids(combine(findings)) == ["known-calcinosis-workup"]


TUMORAL_LABS = [
    lab(P_MASS, 5.8, "mg/dL"),
    lab(P_MASS, 5.8, "mg/dL", days_ago=30),
    lab(CA_MASS, 9.0, "mg/dL"),
    lab(ALBUMIN, 4.0, "g/dL"),
    lab(EGFR, 95.0, GFR_UNIT),
    lab(PTH_MASS, 30.0, "pg/mL"),
]


def test_tumoral_replaces_a_phosphate_only_metastatic_finding() -> None:
    findings = all_findings(*TUMORAL_LABS)  # Ca×P = 9.0 x 5.8 = 52.2: below 55
    assert [f.tags for f in findings if f.rule.id == "metastatic-calcification"] == [frozenset({"phosphate"})]
    assert rule_ids(combine(findings)) == ["tumoral-calcinosis-pattern"]


def test_tumoral_does_not_replace_a_metastatic_finding_with_hypercalcemia() -> None:
    """The metastatic card (hypercalcemia and the phosphate) speaks; the tumoral pattern rests on the same
    phosphate, so it is one line of that card, with its FGF23 suggestion (one value, one card)."""
    labs = [*TUMORAL_LABS[:2], lab(CA_MASS, 11.0, "mg/dL"), *TUMORAL_LABS[3:]]
    [card] = combine(all_findings(*labs))
    assert card.rule.id == "metastatic-calcification"
    assert any(r.startswith("Also: Confirmed high phosphate") for r in card.reasons)
    assert "fgf23" in card.workup


def test_each_test_is_suggested_once_on_the_most_severe_card() -> None:
    # Woman on dialysis with moderate hypercalcemia and nothing else on record: metastatic (moderate, rank 2)
    # and calciphylaxis (rank 2) and missing data (rank 0) all want calcium/phosphate/albumin/PTH.
    warfarin = sd.medication_request("cx-warf", PID, "Warfarin Sodium 5 MG Oral Tablet", 30, rxnorm="855332")
    findings = all_findings(DIALYSIS, lab(CA_MASS, 12.5, "mg/dL", days_ago=100), warfarin, gender="female")
    combined = combine(findings)
    keys = [key for f in combined for key in f.workup]
    assert len(keys) == len(set(keys))
    wanted = {key for f in findings for key in f.workup}
    assert set(keys) == wanted  # nothing is lost, only deduplicated
    ranks = [f.rank for f in combined]
    assert ranks == sorted(ranks, reverse=True)
    by_rule = {f.rule.id: f.workup for f in combined}
    assert "missing-calcium-phosphate" not in by_rule  # its calcium and phosphate are on other cards
    first = combined[0]
    assert set(first.workup) == {key for f in findings if f.rule.id == first.rule.id for key in f.workup}


def test_missing_data_card_is_dropped_when_another_card_suggests_calcium_and_phosphate() -> None:
    jdm = sd.condition(
        "jdm", PID, sd.ICD10, "M33.00", "Juvenile dermatomyositis, organ involvement unspecified"
    )
    findings = all_findings(jdm, gender="female", birth="2014-05-19")
    assert set(rule_ids(findings)) == {"dystrophic-calcinosis-ctd", "missing-calcium-phosphate"}
    combined = combine(findings)
    assert [(f.rule.id, f.workup) for f in combined] == [
        ("dystrophic-calcinosis-ctd", ("calcium", "phosphate"))
    ]


def test_missing_test_is_suggested_once_and_the_missing_data_card_then_drops() -> None:
    # SSc with a high phosphate and no calcium on record: the metastatic card suggests calcium, so the
    # missing-data card (which would suggest it too) has nothing left and is dropped, as is dystrophic.
    findings = all_findings(SSC, lab(P_MASS, 5.5, "mg/dL"))
    assert "missing-calcium-phosphate" in rule_ids(findings)
    combined = combine(findings)
    assert rule_ids(combined) == ["metastatic-calcification"]
    assert [key for f in combined for key in f.workup].count("calcium") == 1


def test_most_severe_card_comes_first() -> None:
    findings = all_findings(
        DIALYSIS,
        lab(CA_MASS, 14.5, "mg/dL"),
        lab(ALBUMIN, 4.0, "g/dL"),
        sd.medication_administration("ivca", PID, "Calcium gluconate 10% IV infusion", 2),
        gender="female",
    )
    combined = combine(findings)
    assert [f.indicator for f in combined] == ["critical", "info"]
    assert rule_ids(combined) == ["metastatic-calcification", "iatrogenic-calcinosis"]
    # The calcium drives the critical card; the calciphylaxis warning it also drives is folded into it.
    assert "Also: Calciphylaxis risk: 2 risk factors on dialysis; examine the skin." in combined[0].reasons


def test_one_phosphate_on_dialysis_draws_one_warning() -> None:
    """Issue 13: one phosphate of 5.6 on dialysis drew two warning cards."""
    findings = all_findings(
        DIALYSIS, lab(CA_MASS, 10.2, "mg/dL"), lab(ALBUMIN, 4.0, "g/dL"), lab(P_MASS, 5.6, "mg/dL")
    )  # Ca×P 57 >= 55 on dialysis: a metastatic warning; P 5.6 > 4.5: a calciphylaxis factor
    assert sorted(f.indicator for f in findings) == ["warning", "warning"]
    [card] = combine(findings)
    assert card.rule.id == "calciphylaxis-risk"  # the more specific warning on dialysis hosts the other
    assert "Also: P 5.6 mg/dL, Ca×P 57: metastatic calcification risk." in card.reasons


def test_dystrophic_module_is_quiet_without_connective_tissue_disease() -> None:
    assert evaluate(dystrophic, *HYPERCALCEMIA) == []
