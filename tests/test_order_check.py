"""The order check (order-select / order-sign): draft orders judged against the patient's chart.

Each draft-order pathway at and around its conditions, and the drafts that must draw nothing (a statin).
Drafts are read from a ``draftOrders`` Bundle by ``terminology.drafts.read_drafts``, as the service does.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from cards import order_calcium, order_iv_calcium, order_phosphate, order_warfarin
from cards.finding import Finding
from cards.given import Given
from terminology.drafts import read_drafts
from terminology.knowledge import load_knowledge
from terminology.snapshot_builder import build_snapshot
from tests import fhir_data as fd
from tests import scenario_data as sd

K = load_knowledge()
PID = "p-orders"
RXNORM = sd.RXNORM
DIALYSIS = sd.dialysis_dependence("z992", PID)
CKD4 = sd.condition("ckd4", PID, sd.ICD10, "N18.4", "Chronic kidney disease, stage 4 (severe)")
CKD3 = sd.condition("ckd3", PID, sd.ICD10, "N18.30", "Chronic kidney disease, stage 3 unspecified")


def draft(text: str, rxnorm: str | None = None, route: tuple[str, str, str] | None = None) -> dict[str, Any]:
    order = sd.medication_request("draft-1", PID, text, 0, rxnorm=rxnorm, route=route, status="draft")
    order.pop("authoredOn")
    return order


WARFARIN = draft("Warfarin Sodium 5 MG Oral Tablet", rxnorm="855332")
STATIN = draft("atorvastatin 20 MG Oral Tablet", rxnorm="617312")
CALCIUM_CARBONATE = draft("Calcium Carbonate 1250 MG Oral Tablet")
CALCITRIOL = draft("Calcitriol 0.25 MCG Oral Capsule")
SODIUM_PHOSPHATE = draft("Sodium Phosphate, Monobasic 250 MG Oral Tablet")
IV_GLUCONATE = draft("Calcium Gluconate 100 MG/ML Injectable Solution", route=sd.ROUTE_IV)
GLUCONATE_NO_ROUTE = draft("Calcium Gluconate 100 MG/ML Injectable Solution")
ORAL_GLUCONATE = draft("Calcium Gluconate 500 MG Oral Tablet", route=sd.ROUTE_ORAL)


def run(
    module: ModuleType, order: dict[str, Any], *chart: dict[str, Any], gender: str = "male"
) -> list[Finding]:
    snapshot = build_snapshot(PID, [sd.patient(PID, gender, "1955-01-01"), fd.bundle(list(chart))], K, sd.NOW)
    drafts = read_drafts(fd.bundle([order]), PID, K)
    findings: list[Finding] = module.evaluate(Given(snapshot, drafts), module.load_config().bind(K), sd.NOW)
    return findings


def lab(code: str, value: float, unit: str) -> dict[str, Any]:
    return fd.lab(code, value, unit, pid=PID, days_ago=2)


ALBUMIN_LOW = lab(sd.ALBUMIN, 3.0, "g/dL")


def test_warfarin_on_dialysis_with_risk_factors_is_a_warning_naming_them() -> None:
    [finding] = run(order_warfarin, WARFARIN, DIALYSIS, ALBUMIN_LOW, gender="female")
    assert finding.indicator == "warning"
    assert "female sex, albumin below 3.5 g/dL" in finding.reasons[0]
    assert finding.removable == (("MedicationRequest/draft-1", "Warfarin Sodium 5 MG Oral Tablet"),)


@pytest.mark.parametrize(
    ("chart", "fires"),
    [
        ([DIALYSIS, ALBUMIN_LOW], True),
        ([DIALYSIS], False),  # kidney failure, but no other factor
        ([CKD4, ALBUMIN_LOW], False),  # a factor, but not kidney failure
        ([CKD3, ALBUMIN_LOW], False),
        (
            [sd.condition("ckd5", PID, sd.ICD10, "N18.5", "Chronic kidney disease, stage 5"), ALBUMIN_LOW],
            True,
        ),
    ],
    ids=["dialysis-factor", "dialysis-alone", "ckd4", "ckd3", "ckd5"],
)
def test_warfarin_needs_kidney_failure_and_a_factor(chart: list[dict[str, Any]], fires: bool) -> None:
    assert bool(run(order_warfarin, WARFARIN, *chart)) is fires


@pytest.mark.parametrize("module", [order_warfarin, order_calcium, order_phosphate, order_iv_calcium])
def test_an_unrelated_draft_draws_nothing(module: ModuleType) -> None:
    """A statin for a hypercalcemic patient on dialysis: no order card of any kind."""
    chart = [DIALYSIS, ALBUMIN_LOW, lab(sd.CALCIUM_MASS, 13.0, "mg/dL"), lab(sd.PHOSPHATE_MASS, 6.0, "mg/dL")]
    assert run(module, STATIN, *chart) == []


@pytest.mark.parametrize(
    ("calcium", "expected"),
    [(10.4, None), (10.6, "info"), (11.9, "info"), (12.0, "warning"), (14.2, "warning")],
)
@pytest.mark.parametrize("order", [CALCIUM_CARBONATE, CALCITRIOL], ids=["calcium-carbonate", "calcitriol"])
def test_calcium_or_vitamin_d_during_hypercalcemia_by_grade(
    order: dict[str, Any], calcium: float, expected: str | None
) -> None:
    chart = [lab(sd.CALCIUM_MASS, calcium, "mg/dL"), lab(sd.ALBUMIN, 4.0, "g/dL")]
    findings = run(order_calcium, order, *chart)
    assert [f.indicator for f in findings] == ([expected] if expected else [])


def test_calcium_during_hypercalcemia_in_mmol_per_l() -> None:
    chart = [lab(sd.CALCIUM_MOLAR, 3.0, "mmol/L"), lab(sd.ALBUMIN, 4.0, "g/dL")]  # 12.02 mg/dL: moderate
    assert [f.indicator for f in run(order_calcium, CALCIUM_CARBONATE, *chart)] == ["warning"]


@pytest.mark.parametrize(("phosphate", "fires"), [(5.4, False), (5.6, True)])
def test_calcium_with_a_high_product_on_dialysis(phosphate: float, fires: bool) -> None:
    chart = [DIALYSIS, lab(sd.CALCIUM_MASS, 10.0, "mg/dL"), lab(sd.ALBUMIN, 4.0, "g/dL")]
    chart.append(lab(sd.PHOSPHATE_MASS, phosphate, "mg/dL"))  # Ca×P 54 / 56 against KDOQI's 55
    findings = run(order_calcium, CALCIUM_CARBONATE, *chart)
    assert [f.indicator for f in findings] == (["warning"] if fires else [])


@pytest.mark.parametrize(
    ("chart", "fires"),
    [
        ([CKD4], True),
        ([DIALYSIS], True),
        ([CKD3], False),
        ([lab(sd.CALCIUM_MASS, 10.9, "mg/dL"), lab(sd.ALBUMIN, 4.0, "g/dL")], True),  # mild hypercalcemia
        ([lab(sd.CALCIUM_MASS, 10.4, "mg/dL"), lab(sd.ALBUMIN, 4.0, "g/dL")], False),
    ],
    ids=["ckd4", "dialysis", "ckd3", "hypercalcemia", "normal-calcium"],
)
def test_phosphate_during_hypercalcemia_or_in_ckd_g4_g5(chart: list[dict[str, Any]], fires: bool) -> None:
    findings = run(order_phosphate, SODIUM_PHOSPHATE, *chart)
    assert [f.indicator for f in findings] == (["warning"] if fires else [])


@pytest.mark.parametrize(
    ("order", "fires"),
    [(IV_GLUCONATE, True), (GLUCONATE_NO_ROUTE, True), (ORAL_GLUCONATE, False)],
    ids=["iv-route", "injectable-no-route", "oral"],
)
def test_intravenous_calcium_at_signing(order: dict[str, Any], fires: bool) -> None:
    findings = run(order_iv_calcium, order)
    assert [f.indicator for f in findings] == (["info"] if fires else [])


def test_a_draft_for_another_patient_is_not_read() -> None:
    other = {**WARFARIN, "subject": {"reference": "Patient/someone-else"}}
    assert read_drafts(fd.bundle([other]), PID, K) == ()
    assert [d.resource_id for d in read_drafts(fd.bundle([WARFARIN]), PID, K)] == ["draft-1"]
