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
    cited,
    condition_row,
    current_medications,
    kidney_rows,
    lab_row,
    medication_row,
    missing_orders,
    not_used,
    recent,
    references,
)
from cards.finding import Evidence, Finding
from cards.given import Given
from terminology.snapshot import LabResult, PatientSnapshot

# Medication factors: each names its concept in the rule's data (conceptNames).
MEDICATION_FACTORS = ("warfarin", "activeVitaminD", "calciumBinder", "corticosteroid")
LAB_FACTORS = {
    "phosphate": ("phosphate", "phosphateAboveNormal"),
    "pth": ("pth-intact", "pthAboveDialysisTarget"),
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
        "note",
        "advisory",
        *(f"factor_{f}" for f in FACTORS),
    }
    return load_rule(
        "calciphylaxis",
        windows={"labs", "medications", "workup"},
        thresholds={
            "calciumAboveNormal",
            "ionizedAboveNormal",
            "phosphateAboveNormal",
            "pthAboveDialysisTarget",
            "albuminLow",
            "bmiObese",
            "ckdFailure",
        },
        text=text,
        grades={"risk"},
    )


Hit = tuple[list[Evidence], list[str]]  # the factor's evidence rows, and the references it rests on
Detector = Callable[[PatientSnapshot, RuleConfig, datetime, datetime], Hit]


def _cited(config: RuleConfig, factor: str, rows: list[Evidence]) -> Hit:
    return rows, list(config.factor_citations.get(factor, ())) if rows else []


def _female(snapshot: PatientSnapshot, config: RuleConfig, _s: datetime, _m: datetime) -> Hit:
    rows = (
        [Evidence("Sex", "female", "", "", f"Patient/{snapshot.patient_id}")]
        if snapshot.sex == "female"
        else []
    )
    return _cited(config, "female", rows)


def _diabetes(snapshot: PatientSnapshot, config: RuleConfig, _s: datetime, _m: datetime) -> Hit:
    rows = [condition_row(c) for c in snapshot.conditions_of(config.concept("diabetes"))]
    return _cited(config, "diabetes", rows)


def _obesity(snapshot: PatientSnapshot, config: RuleConfig, since: datetime, _m: datetime) -> Hit:
    rows = [condition_row(c) for c in snapshot.conditions_of(config.concept("obesity"))]
    bmi = recent(snapshot, "bmi", since)
    rows += [lab_row(bmi)] if bmi and config.thresholds["bmiObese"].met_by(bmi) else []
    return _cited(config, "obesity", rows)


def _lab_hit(snapshot: PatientSnapshot, config: RuleConfig, name: str, result: LabResult | None) -> Hit:
    """A laboratory factor: the result, when it meets threshold ``name``, and that threshold's source."""
    limit = config.limit(name, snapshot, result.day) if result else None
    if result is None or limit is None or not limit.met_by(result):
        return [], []
    return [lab_row(result)], [limit.cited]


def _calcium(snapshot: PatientSnapshot, config: RuleConfig, since: datetime, _m: datetime) -> Hit:
    reading = latest_calcium(snapshot, since)
    if reading is None or reading.basis == "total":
        return [], []  # uncorrected total calcium does not count: the factor is high corrected or ionized Ca
    return _lab_hit(
        snapshot,
        config,
        "ionizedAboveNormal" if reading.basis == "ionized" else "calciumAboveNormal",
        reading.result,
    )


def _lab(analyte: str, threshold: str) -> Detector:
    def detect(snapshot: PatientSnapshot, config: RuleConfig, since: datetime, _m: datetime) -> Hit:
        return _lab_hit(snapshot, config, threshold, recent(snapshot, analyte, since))

    return detect


def _medication(factor: str) -> Detector:
    """Current systemic exposure: active or given/ordered within the window, not by a local route."""

    def detect(snapshot: PatientSnapshot, config: RuleConfig, _s: datetime, meds_since: datetime) -> Hit:
        exposed = current_medications(snapshot, config.concept(factor), meds_since)
        return _cited(config, factor, [medication_row(m) for m in exposed])

    return detect


DETECTORS: dict[str, Detector] = {
    "female": _female,
    "diabetes": _diabetes,
    "obesity": _obesity,
    "calcium": _calcium,
    **{name: _lab(analyte, threshold) for name, (analyte, threshold) in LAB_FACTORS.items()},
    **{name: _medication(name) for name in MEDICATION_FACTORS},
}


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    """One finding listing the risk factors present, for a patient on dialysis or with CKD stage 5.

    Female sex and diabetes are background: they are listed, but the card needs at least one factor that
    can change (a laboratory value, a medication, obesity). A recorded calciphylaxis has its own card
    (``known_calciphylaxis``), so no risk count is shown then.
    """
    snapshot = given.snapshot
    failure = config.thresholds["ckdFailure"]
    in_failure = snapshot.on_dialysis or (
        snapshot.ckd is not None and failure.met_by(float(snapshot.ckd.stage))
    )
    if not in_failure or any(snapshot.conditions_of(c) for c in config.exclude_concepts):
        return []
    since, meds_since = now - config.windows["labs"].delta, now - config.windows["medications"].delta
    found = {
        name: hit for name in FACTORS if (hit := DETECTORS[name](snapshot, config, since, meds_since))[0]
    }
    if not set(found) - set(config.background):
        return []
    text, grade = config.text, config.grades["risk"]
    setting = text["settingDialysis"] if snapshot.on_dialysis else text["settingEsrd"]
    names = [text[f"factor_{name}"] for name in found]
    lab_drivers = [
        row.lab for name in found if name in LAB_FACTORS or name == "calcium" for row in found[name][0]
    ]
    return [
        Finding(
            rule=config.rule,
            indicator=grade.indicator,
            rank=grade.rank,
            summary=text["summary"].format(
                count=len(found), plural="" if len(found) == 1 else "s", setting=setting
            ),
            reasons=(text["reason"].format(factors=", ".join(names)), text["note"], text["advisory"]),
            evidence=(*kidney_rows(snapshot), *(row for rows, _ in found.values() for row in rows)),
            not_used=not_used(snapshot, READS),
            citations=cited(config.citations, *(keys for _, keys in found.values())),
            workup=missing_orders(snapshot, config.orders, now - config.windows["workup"].delta),
            tags=frozenset(found),
            drivers=references(*lab_drivers),
        )
    ]
