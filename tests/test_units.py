"""Unit resolution and conversion to canonical units, in both unit systems, around clinical thresholds."""

from __future__ import annotations

import pytest

from terminology.knowledge import load_knowledge
from terminology.units import UCUM, UnitError, convert

K = load_knowledge()
CALCIUM = K.analytes["calcium-total"]
PHOSPHATE = K.analytes["phosphate"]


@pytest.mark.parametrize(
    ("value", "unit", "expected_mg_dl"),
    [
        # around the hypercalcemia thresholds 10.5 / 12 / 14 mg/dL, reported in SI
        (2.62, "mmol/L", 10.5004),
        (2.61, "mmol/L", 10.4604),
        (2.99, "mmol/L", 11.9833),
        (3.00, "mmol/L", 12.0234),
        (3.49, "mmol/L", 13.9872),
        (3.50, "mmol/L", 14.0273),
        (10.5, "mg/dL", 10.5),
        (105, "mg/L", 10.5),
        (2620, "umol/L", 10.5004),
    ],
)
def test_calcium_to_mg_dl(value: float, unit: str, expected_mg_dl: float) -> None:
    assert convert(K, CALCIUM, value, UCUM, unit, unit) == pytest.approx(expected_mg_dl, abs=1e-4)


@pytest.mark.parametrize(
    ("value", "unit", "expected_mg_dl"),
    [(1.45, "mmol/L", 4.4912), (1.78, "mmol/L", 5.5134), (4.5, "mg/dL", 4.5)],
)
def test_phosphate_to_mg_dl(value: float, unit: str, expected_mg_dl: float) -> None:
    assert convert(K, PHOSPHATE, value, UCUM, unit, unit) == pytest.approx(expected_mg_dl, abs=1e-4)


@pytest.mark.parametrize("text", ["mg/dl", "MG/DL", "mg%", " mg/dl "])
def test_free_text_units_without_ucum_code(text: str) -> None:
    assert convert(K, CALCIUM, 9.6, None, None, text) == 9.6


@pytest.mark.parametrize("text", ["µmol/L", "μmol/l", "umol/L"])
def test_micro_sign_variants(text: str) -> None:
    assert convert(K, CALCIUM, 2500, None, None, text) == pytest.approx(10.0195, abs=1e-4)


def test_ucum_code_is_case_sensitive_but_text_is_not() -> None:
    # "MG/DL" is not a UCUM code; it is still recognised as text, never as milli-gram per deci-... guesswork.
    assert convert(K, CALCIUM, 9.0, UCUM, "MG/DL", None) == 9.0


@pytest.mark.parametrize(
    ("code", "text", "reason"),
    [
        (None, None, "unit-missing"),
        ("meq/L", None, "unit-unknown"),
        (None, "mg", "unit-unknown"),
        ("%", "%", "unit-unknown"),
    ],
)
def test_unknown_units_are_errors(code: str | None, text: str | None, reason: str) -> None:
    with pytest.raises(UnitError) as info:
        convert(K, CALCIUM, 1.0, UCUM, code, text)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "expected"),
    [
        ("creatinine", 88.4, "umol/L", 1.0),  # 1 mg/dL = 88.4 umol/L (113.12 g/mol)
        ("creatinine", 1.0, "mg/dL", 1.0),
        ("albumin", 35, "g/L", 3.5),  # around the usual 3.5 g/dL lower limit
        ("albumin", 3.4, "g/dL", 3.4),
        ("pth-intact", 10, "pmol/L", 94.25),  # PTH(1-84) 9425 g/mol
        ("pth-intact", 65, "pg/mL", 65.0),
        ("pth-intact", 65, "ng/L", 65.0),
        ("vitamin-d-25-hydroxy", 75, "nmol/L", 30.048),  # 30 ng/mL sufficiency cut-off in SI
        ("vitamin-d-25-hydroxy", 250, "nmol/L", 100.16),  # 100 ng/mL
        ("vitamin-d-1-25-dihydroxy", 120, "pmol/L", 49.9968),
        ("calcium-ionized", 5.3, "mg/dL", 1.3224),  # ionized 5.3 mg/dL = 1.32 mmol/L
        ("calcium-ionized", 1.32, "mmol/L", 1.32),
        ("egfr", 59, "mL/min/{1.73_m2}", 59.0),
    ],
)
def test_other_analytes_to_canonical(analyte: str, value: float, unit: str, expected: float) -> None:
    assert convert(K, K.analytes[analyte], value, UCUM, unit, unit) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("text", ["mL/min/1.73m2", "ml/min/1.73 m2", "mL/min/1.73m²"])
def test_egfr_unit_text_variants(text: str) -> None:
    assert convert(K, K.analytes["egfr"], 42, None, None, text) == 42


def test_wrong_dimension_is_an_error_not_a_guess() -> None:
    with pytest.raises(UnitError) as info:
        convert(K, K.analytes["egfr"], 42, UCUM, "mg/dL", "mg/dL")
    assert info.value.reason == "unit-wrong-dimension"
