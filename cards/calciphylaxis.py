"""Calciphylaxis risk: only in kidney failure (dialysis, or CKD stage 5), the risk factors present, counted.

Nigwekar 2018 lists the factors; no validated score exists, so the card counts the factors present and
shows each one's evidence, never a made-up score. Thresholds and words are in ``data/calciphylaxis.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache

from cards.calcium import latest_calcium
from cards.config import RuleConfig, load_rule
from cards.evidence import (
    condition_row,
    kidney_rows,
    lab_row,
    medication_row,
    missing_orders,
    not_used,
    recent,
)
from cards.finding import Evidence, Finding
from terminology.snapshot import PatientSnapshot

MEDICATION_FACTORS = {
    "warfarin": "warfarin",
    "activeVitaminD": "vitamin-d-active",
    "calciumBinder": "calcium-based-phosphate-binders",
    "corticosteroid": "systemic-corticosteroids",
}
LAB_FACTORS = {
    "phosphate": ("phosphate", "phosphateHigh"),
    "pth": ("pth-intact", "pthHigh"),
    "albumin": ("albumin", "albuminLow"),
}
FACTORS = ("female", "diabetes", "obesity", "calcium", *LAB_FACTORS, *MEDICATION_FACTORS)
READS = (
    "calcium-total",
    "calcium-ionized",
    "calcium-albumin-corrected",
    "phosphate",
    "pth-intact",
    "albumin",
    "bmi",
)


@cache
def load_config() -> RuleConfig:
    text = {
        "summary",
        "settingDialysis",
        "settingEsrd",
        "reason",
        "advisory",
        *(f"factor_{f}" for f in FACTORS),
    }
    return load_rule(
        "calciphylaxis",
        windows={"labs", "medications", "workup"},
        thresholds={
            "calciumHigh",
            "ionizedHigh",
            "phosphateHigh",
            "pthHigh",
            "albuminLow",
            "bmiObese",
            "ckdFailure",
        },
        text=text,
        grades={"risk"},
    )


Detector = Callable[[PatientSnapshot, RuleConfig, datetime, datetime], list[Evidence]]


def _female(snapshot: PatientSnapshot, _c: RuleConfig, _s: datetime, _m: datetime) -> list[Evidence]:
    return (
        [Evidence("Administrative sex", "female", "", "", f"Patient/{snapshot.patient_id}")]
        if snapshot.sex == "female"
        else []
    )


def _diabetes(snapshot: PatientSnapshot, _c: RuleConfig, _s: datetime, _m: datetime) -> list[Evidence]:
    return [condition_row(c) for c in snapshot.conditions_of("diabetes-mellitus")]


def _obesity(snapshot: PatientSnapshot, config: RuleConfig, since: datetime, _m: datetime) -> list[Evidence]:
    rows = [condition_row(c) for c in snapshot.conditions_of("obesity")]
    bmi = recent(snapshot, "bmi", since)
    return rows + ([lab_row(bmi)] if bmi and config.thresholds["bmiObese"].met_by(bmi) else [])


def _calcium(snapshot: PatientSnapshot, config: RuleConfig, since: datetime, _m: datetime) -> list[Evidence]:
    reading = latest_calcium(snapshot, since)
    if reading is None or reading.basis == "total":
        return []  # uncorrected total calcium does not count: the factor is high corrected or ionized calcium
    name = "ionizedHigh" if reading.basis == "ionized" else "calciumHigh"
    return [lab_row(reading.result)] if config.meets(name, snapshot, reading.result) else []


def _lab(analyte: str, threshold: str) -> Detector:
    def detect(
        snapshot: PatientSnapshot, config: RuleConfig, since: datetime, _m: datetime
    ) -> list[Evidence]:
        result = recent(snapshot, analyte, since)
        return [lab_row(result)] if result and config.meets(threshold, snapshot, result) else []

    return detect


def _medication(category: str) -> Detector:
    """Current systemic exposure: active or given/ordered within the window, not by a local route."""

    def detect(
        snapshot: PatientSnapshot, _c: RuleConfig, _s: datetime, meds_since: datetime
    ) -> list[Evidence]:
        current = [
            m
            for m in snapshot.medications_of(category)
            if not m.local and (m.status == "active" or (m.when is not None and m.when >= meds_since))
        ]
        return [medication_row(m) for m in current]

    return detect


DETECTORS: dict[str, Detector] = {
    "female": _female,
    "diabetes": _diabetes,
    "obesity": _obesity,
    "calcium": _calcium,
    **{name: _lab(analyte, threshold) for name, (analyte, threshold) in LAB_FACTORS.items()},
    **{name: _medication(category) for name, category in MEDICATION_FACTORS.items()},
}


def evaluate(snapshot: PatientSnapshot, config: RuleConfig, now: datetime) -> list[Finding]:
    """One finding listing the risk factors present, for a patient on dialysis or with CKD stage 5."""
    failure = config.thresholds["ckdFailure"]
    in_failure = snapshot.on_dialysis or (
        snapshot.ckd is not None and failure.met_by(float(snapshot.ckd.stage))
    )
    if not in_failure:
        return []
    since, meds_since = now - config.windows["labs"].delta, now - config.windows["medications"].delta
    found = {name: rows for name in FACTORS if (rows := DETECTORS[name](snapshot, config, since, meds_since))}
    if not found:
        return []
    text, grade = config.text, config.grades["risk"]
    setting = text["settingDialysis"] if snapshot.on_dialysis else text["settingEsrd"]
    names = [text[f"factor_{name}"] for name in found]
    basis = kidney_rows(snapshot)
    return [
        Finding(
            rule=config.rule,
            indicator=grade.indicator,
            rank=grade.rank,
            summary=text["summary"].format(
                count=len(found), plural="" if len(found) == 1 else "s", setting=setting
            ),
            reasons=(text["reason"].format(factors=", ".join(names)), text["advisory"]),
            evidence=(*basis, *(row for rows in found.values() for row in rows)),
            not_used=not_used(snapshot, READS),
            citations=config.citations,
            workup=missing_orders(snapshot, config.orders, now - config.windows["workup"].delta),
        )
    ]
