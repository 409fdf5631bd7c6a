"""Golden scenarios of the order hooks (``order-sign``, ``order-select``): a chart and the draft orders.

Each draft-order pathway gets a scenario where it speaks and one where the same draft on a different chart,
or an unrelated draft on the same chart, draws nothing. The hook library's own ``order-sign`` and
``order-select`` R4 examples (``tests/data/cds-hooks/examples/hook-library``) are answered too, with a
prefetch for their patient. Written with the patient-view scenarios by ``python -m tests.scenario_data``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from tests.reference_data import EXAMPLES
from tests.scenario_data import (
    ALBUMIN,
    BMI,
    CALCIUM_MASS,
    CREATININE,
    ICD10,
    PHOSPHATE_MASS,
    ROUTE_IV,
    ROUTE_ORAL,
    Resource,
    condition,
    dialysis_dependence,
    hemodialysis,
    lab,
    medication_request,
    patient,
    request,
)

SIGN, SELECT = "order-sign", "order-select"


def draft(
    mid: str, pid: str, text: str, *, route: tuple[str, str, str], rxnorm: str | None = None
) -> Resource:
    """A draft MedicationRequest as an EHR's order entry sends it (no authoredOn yet)."""
    order = medication_request(mid, pid, text, 0, status="draft", rxnorm=rxnorm, route=route)
    order.pop("authoredOn")
    return order


def warfarin(pid: str) -> Resource:
    return draft("draft-warfarin", pid, "Warfarin Sodium 5 MG Oral Tablet", rxnorm="855332", route=ROUTE_ORAL)


def statin(pid: str) -> Resource:
    return draft("draft-statin", pid, "atorvastatin 20 MG Oral Tablet", rxnorm="617312", route=ROUTE_ORAL)


def _dialysis_chart(
    scenario: str, p: str, *, female: bool, albumin: float, drafts: list[Resource], hook: str
) -> Resource:
    """On dialysis; female sex and low albumin are calciphylaxis risk factors, male with 4.0 g/dL none."""
    return request(
        scenario,
        patient(p, "female" if female else "male", "1958-03-14"),
        labs=[
            lab(f"{p}-ca", p, CALCIUM_MASS, 9.1, "mg/dL", 5),
            lab(f"{p}-alb", p, ALBUMIN, albumin, "g/dL", 5),
            lab(f"{p}-p", p, PHOSPHATE_MASS, 4.4, "mg/dL", 5),
            lab(f"{p}-cr", p, CREATININE, 7.9, "mg/dL", 5),
            lab(f"{p}-bmi", p, BMI, 24.0, "kg/m2", 20),
        ],
        conditions=[dialysis_dependence(f"{p}-z992", p)],
        medication_requests=[],
        medication_administrations=[],
        procedures=[hemodialysis(f"{p}-hd", p, 2)],
        hook=hook,
        drafts=drafts,
    )


def warfarin_dialysis_risk_factors() -> Resource:
    p = "pt-order-warfarin"
    return _dialysis_chart(
        "order-sign-warfarin-dialysis-risk-factors",
        p,
        female=True,
        albumin=3.0,
        drafts=[warfarin(p)],
        hook=SIGN,
    )


def warfarin_dialysis_no_factors() -> Resource:
    p = "pt-order-warfarin-plain"
    return _dialysis_chart(
        "order-sign-warfarin-no-risk-factors", p, female=False, albumin=4.0, drafts=[warfarin(p)], hook=SIGN
    )


def statin_dialysis_risk_factors() -> Resource:
    p = "pt-order-statin"
    return _dialysis_chart(
        "order-sign-statin-dialysis", p, female=True, albumin=3.0, drafts=[statin(p)], hook=SIGN
    )


def select_warfarin() -> Resource:
    p = "pt-select-warfarin"
    return _dialysis_chart(
        "order-select-warfarin", p, female=True, albumin=3.0, drafts=[warfarin(p)], hook=SELECT
    )


def select_statin_beside_warfarin() -> Resource:
    """Warfarin is an earlier draft of the session; only the statin was just selected (order-select asks
    decision support to focus on the selections)."""
    p = "pt-select-statin"
    body = _dialysis_chart(
        "order-select-statin-beside-warfarin",
        p,
        female=True,
        albumin=3.0,
        drafts=[warfarin(p), statin(p)],
        hook=SELECT,
    )
    body["context"]["selections"] = ["MedicationRequest/draft-statin"]
    return body


def _calcium_chart(
    scenario: str, p: str, calcium: float, drafts: list[Resource], hook: str = SIGN
) -> Resource:
    return request(
        scenario,
        patient(p, "female", "1961-07-30"),
        labs=[
            lab(f"{p}-ca", p, CALCIUM_MASS, calcium, "mg/dL", 3),
            lab(f"{p}-alb", p, ALBUMIN, 4.1, "g/dL", 3),
            lab(f"{p}-p", p, PHOSPHATE_MASS, 3.6, "mg/dL", 3),
            lab(f"{p}-cr", p, CREATININE, 0.9, "mg/dL", 3),
        ],
        conditions=[],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
        hook=hook,
        drafts=drafts,
    )


def calcium_carbonate_moderate_hypercalcemia() -> Resource:
    p = "pt-order-calcium"
    order = draft("draft-calcium", p, "Calcium Carbonate 1250 MG Oral Tablet", route=ROUTE_ORAL)
    return _calcium_chart("order-sign-calcium-moderate-hypercalcemia", p, 12.4, [order])


def calcitriol_mild_hypercalcemia() -> Resource:
    p = "pt-order-calcitriol"
    order = draft("draft-calcitriol", p, "Calcitriol 0.25 MCG Oral Capsule", route=ROUTE_ORAL)
    return _calcium_chart("order-sign-calcitriol-mild-hypercalcemia", p, 10.8, [order])


def calcium_carbonate_normal_calcium() -> Resource:
    p = "pt-order-calcium-normal"
    order = draft("draft-calcium", p, "Calcium Carbonate 1250 MG Oral Tablet", route=ROUTE_ORAL)
    return _calcium_chart("order-sign-calcium-normal-calcium", p, 9.4, [order])


def _ckd_chart(
    scenario: str, p: str, code: str, display: str, creatinine: float, drafts: list[Resource]
) -> Resource:
    """A coded CKD stage and a creatinine that agrees with it (CKD-EPI 2021 at 76 years, male)."""
    return request(
        scenario,
        patient(p, "male", "1950-02-11"),
        labs=[
            lab(f"{p}-ca", p, CALCIUM_MASS, 9.0, "mg/dL", 4),
            lab(f"{p}-alb", p, ALBUMIN, 4.0, "g/dL", 4),
            lab(f"{p}-p", p, PHOSPHATE_MASS, 4.2, "mg/dL", 4),
            lab(f"{p}-cr", p, CREATININE, creatinine, "mg/dL", 4),
        ],
        conditions=[condition(f"{p}-ckd", p, ICD10, code, display)],
        medication_requests=[],
        medication_administrations=[],
        procedures=[],
        hook=SIGN,
        drafts=drafts,
    )


def sodium_phosphate_ckd4() -> Resource:
    p = "pt-order-phosphate"
    order = draft("draft-phosphate", p, "Sodium Phosphate, Monobasic 250 MG Oral Tablet", route=ROUTE_ORAL)
    return _ckd_chart(
        "order-sign-phosphate-ckd4", p, "N18.4", "Chronic kidney disease, stage 4 (severe)", 3.4, [order]
    )


def sodium_phosphate_ckd3() -> Resource:
    p = "pt-order-phosphate-ckd3"
    order = draft("draft-phosphate", p, "Sodium Phosphate, Monobasic 250 MG Oral Tablet", route=ROUTE_ORAL)
    return _ckd_chart(
        "order-sign-phosphate-ckd3", p, "N18.30", "Chronic kidney disease, stage 3 unspecified", 1.6, [order]
    )


def iv_calcium_gluconate() -> Resource:
    p = "pt-order-iv-calcium"
    order = draft("draft-gluconate", p, "Calcium Gluconate 100 MG/ML Injectable Solution", route=ROUTE_IV)
    return _calcium_chart("order-sign-iv-calcium-gluconate", p, 8.2, [order])


def hook_library_example(hook: str) -> Callable[[], Resource]:
    """The hook library's R4 example context, unchanged, in a call with a prefetch for its patient (on
    dialysis with calciphylaxis risk factors: its amoxicillin and pureed diet still draw nothing)."""

    def build() -> Resource:
        scenario = f"{hook}-hook-library-example"
        example = json.loads((EXAMPLES / "hook-library" / f"{hook}-r4.json").read_text(encoding="utf-8"))
        p = example["context"]["patientId"]
        body = _dialysis_chart(scenario, p, female=True, albumin=3.0, drafts=[], hook=SIGN)
        body["hook"] = hook
        body["context"] = example["context"]
        body["hookInstance"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"calcinosis-cds/golden/{scenario}"))
        return body

    return build


ORDER_SCENARIOS: dict[str, Callable[[], Resource]] = {
    "order-sign-warfarin-dialysis-risk-factors": warfarin_dialysis_risk_factors,
    "order-sign-warfarin-no-risk-factors": warfarin_dialysis_no_factors,
    "order-sign-statin-dialysis": statin_dialysis_risk_factors,
    "order-select-warfarin": select_warfarin,
    "order-select-statin-beside-warfarin": select_statin_beside_warfarin,
    "order-sign-calcium-moderate-hypercalcemia": calcium_carbonate_moderate_hypercalcemia,
    "order-sign-calcitriol-mild-hypercalcemia": calcitriol_mild_hypercalcemia,
    "order-sign-calcium-normal-calcium": calcium_carbonate_normal_calcium,
    "order-sign-phosphate-ckd4": sodium_phosphate_ckd4,
    "order-sign-phosphate-ckd3": sodium_phosphate_ckd3,
    "order-sign-iv-calcium-gluconate": iv_calcium_gluconate,
    "order-sign-hook-library-example": hook_library_example(SIGN),
    "order-select-hook-library-example": hook_library_example(SELECT),
}
