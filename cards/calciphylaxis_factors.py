"""Calciphylaxis risk factors in a chart (Nigwekar 2018), each with its evidence and the reference behind it.

Read by the calciphylaxis risk card and by the order check (warfarin drafted for a patient in kidney
failure). The thresholds and concepts are named in the reading rule's data (``thresholds``, ``conceptNames``,
``factorCitations``), so every rule that counts the factors counts them alike.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cards.calcium import latest_calcium
from cards.config import RuleConfig
from cards.evidence import condition_row, current_medications, lab_row, medication_row, recent
from cards.finding import Evidence
from terminology.snapshot import LabResult, PatientSnapshot

# The thresholds the detectors read, and kidney failure's: a rule counting the factors names them all.
THRESHOLDS = {
    "calciumAboveNormal", "ionizedAboveNormal", "phosphateAboveNormal", "pthAboveDialysisTarget",
    "albuminLow", "bmiObese", "ckdFailure",
}  # fmt: skip
# Medication factors: each names its concept in the rule's data (conceptNames).
MEDICATION_FACTORS = ("warfarin", "activeVitaminD", "calciumBinder", "corticosteroid")
LAB_FACTORS = {
    "phosphate": ("phosphate", "phosphateAboveNormal"),
    "pth": ("pth-intact", "pthAboveDialysisTarget"),
    "albumin": ("albumin", "albuminLow"),
}
FACTORS = ("female", "diabetes", "obesity", "calcium", *LAB_FACTORS, *MEDICATION_FACTORS)
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


def factors_present(
    snapshot: PatientSnapshot, config: RuleConfig, since: datetime, meds_since: datetime
) -> dict[str, Hit]:
    """The factors the chart shows, in ``FACTORS`` order: labs since ``since``, drugs since ``meds_since``."""
    return {name: hit for name in FACTORS if (hit := DETECTORS[name](snapshot, config, since, meds_since))[0]}


def in_kidney_failure(snapshot: PatientSnapshot, config: RuleConfig) -> bool:
    """On dialysis, or CKD stage 5 (the rule's ``ckdFailure`` threshold)."""
    failure = config.thresholds["ckdFailure"]
    return snapshot.on_dialysis or (snapshot.ckd is not None and failure.met_by(float(snapshot.ckd.stage)))
