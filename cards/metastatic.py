"""Metastatic calcification risk: hypercalcemia (graded), hyperphosphatemia, a high Ca×P product.

Thresholds, grades, words and citations are in ``data/metastatic.json``. Each grade quotes its own limit:
mild above the upper limit of the reference interval for the patient's age and sex (adults 10.5 mg/dL,
StatPearls), moderate from 12, severe from 14 mg/dL (StatPearls); ionized above 1.3224 mmol/L (= 5.3 mg/dL,
StatPearls), moderate above 1.6, severe above 1.8 mmol/L (CTCAE v5). Severe hypercalcemia is an emergency:
the card says so first (same-day evaluation) and mentions calcinosis second. Phosphate is high above the
upper limit for age and sex. Ca×P counts at >= 55 mg²/dL² in adults with CKD G4-G5 or on dialysis (KDOQI
2003) and above 70 elsewhere (dermatology literature). Contributing factors are listed with their evidence:
kidney failure, hyperparathyroidism, vitamin D excess (toxicity named with hypercalcemia), sarcoidosis,
and the calcium and vitamin D products on the medication list.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.calcium import CalciumReading, latest_calcium
from cards.config import RuleConfig, Threshold, load_rule
from cards.contributors import Contribution, contributors
from cards.evidence import (
    cited,
    lab_row,
    lab_rows,
    missing_orders,
    not_used,
    ordered_analytes,
    recent,
    references,
    strongest,
)
from cards.finding import Evidence, Finding
from cards.given import Given
from terminology.snapshot import LabResult, PatientSnapshot

THRESHOLDS = {
    "calciumAboveNormal", "calciumModerate", "calciumSevere", "ionizedAboveNormal", "ionizedModerate",
    "ionizedSevere", "phosphateAboveNormal", "productKidney", "productOther", "pthAboveNormal",
    "pthAboveDialysisTarget", "vitaminDToxic", "egfrBelow30", "ckdSevere", "adultAge",
}  # fmt: skip
TEXT = {
    "summary", "summaryEmergency", "summaryCalcium", "summaryPhosphate", "summaryProduct",
    "reasonEmergency", "reasonCalciumMild", "reasonCalcium",
    "reasonUncorrected", "reasonPhosphate", "reasonProduct", "productKidney", "productOther", "reasonCkd",
    "reasonPth", "reasonVitaminD", "reasonVitaminDToxicity", "reasonSarcoidosis", "reasonMedications",
    "context", "advisory",
}  # fmt: skip
# What grading a calcium and judging a Ca×P read: a rule that grades as this one does names them all.
GRADING_THRESHOLDS = {
    "calciumAboveNormal", "calciumModerate", "calciumSevere", "ionizedAboveNormal", "ionizedModerate",
    "ionizedSevere", "productKidney", "productOther", "adultAge", "ckdSevere",
}  # fmt: skip
GRADE_LIMITS = {
    "ionized": (("severe", "ionizedSevere"), ("moderate", "ionizedModerate"), ("mild", "ionizedAboveNormal")),
    "other": (("severe", "calciumSevere"), ("moderate", "calciumModerate"), ("mild", "calciumAboveNormal")),
}
COMPARISON_WORDS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}
READS = (
    "calcium-total",
    "calcium-ionized",
    "calcium-albumin-corrected",
    "albumin",
    "phosphate",
    "pth-intact",
    "vitamin-d-25-hydroxy",
    "egfr",
    "creatinine",
)
ON_DIALYSIS_NOT_NEEDED = ("renal-function",)  # kidney function tests say nothing new on dialysis


@cache
def load_config() -> RuleConfig:
    grades = {"mild", "moderate", "severe", "phosphate", "product"}
    return load_rule(
        "metastatic",
        windows={"labs", "workup", "medications"},
        thresholds=THRESHOLDS,
        text=TEXT,
        grades=grades,
    )


def calcium_grade(
    reading: CalciumReading, config: RuleConfig, snapshot: PatientSnapshot
) -> tuple[str, Threshold] | None:
    """The grade the reading is certainly in (a ``<`` result never raises one) and the limit it crossed;
    mild is above the upper limit of the reference interval for the patient's age and sex."""
    for grade, name in GRADE_LIMITS["ionized" if reading.basis == "ionized" else "other"]:
        limit = config.limit(name, snapshot, reading.result.day)
        if limit is not None and limit.met_by(reading.result):
            return grade, limit
    return None


def product_limit(snapshot: PatientSnapshot, config: RuleConfig) -> tuple[Threshold, str]:
    """KDOQI's 55 mg²/dL² is a target for adults in CKD G4-G5 and on dialysis; elsewhere above 70."""
    t = config.thresholds
    age = snapshot.age_years
    adult = age is None or t["adultAge"].met_by(float(age))
    kidney = snapshot.on_dialysis or (
        snapshot.ckd is not None and t["ckdSevere"].met_by(float(snapshot.ckd.stage))
    )
    return (t["productKidney"], "productKidney") if adult and kidney else (t["productOther"], "productOther")


class _Card:
    """The parts of the one metastatic finding, collected in reading order."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.reasons: list[str] = []
        self.rows: list[Evidence] = []
        self.kinds: list[str] = []
        self.used: list[Threshold] = []
        self.drivers: set[str] = set()

    def add(self, kind: str, part: str, reason: str, limit: Threshold, *results: LabResult) -> None:
        self.parts.append(part)
        self.reasons.append(reason)
        self.kinds.append(kind)
        self.used.append(limit)
        self.drivers |= references(*results)


def _calcium(card: _Card, config: RuleConfig, snapshot: PatientSnapshot, reading: CalciumReading) -> None:
    found = calcium_grade(reading, config, snapshot)
    if found is None:
        return
    grade, limit = found
    text, present = config.text, config.present
    basis, value = reading.basis_word, present.value(reading.result)
    label = config.grades[grade].label
    words = {
        "basis": basis.capitalize(),
        "value": value,
        "limit": present.amount(limit.analyte, limit.cited_value, limit.unit),
    }
    if grade == "mild":
        reason = text["reasonCalciumMild"].format(**words, band=limit.band, grade=label.lower())
    else:
        reason = text["reasonCalcium"].format(
            **words, comparison=COMPARISON_WORDS[limit.comparison], grade=label.lower()
        )
    card.add(
        grade,
        text["summaryCalcium"].format(grade=label, basis=basis, value=value),
        reason,
        limit,
        reading.result,
    )
    if reading.basis == "total":
        card.reasons.append(text["reasonUncorrected"])
    card.rows += lab_rows(snapshot, reading.result)


def _phosphate(card: _Card, config: RuleConfig, snapshot: PatientSnapshot, phosphate: LabResult) -> None:
    limit = config.limit("phosphateAboveNormal", snapshot, phosphate.day)
    if limit is None or not limit.met_by(phosphate):
        return
    text, present = config.text, config.present
    value = present.value(phosphate)
    shown = present.amount(limit.analyte, limit.cited_value, limit.unit)
    card.add(
        "phosphate",
        text["summaryPhosphate"].format(value=value),
        text["reasonPhosphate"].format(value=value, limit=shown, band=limit.band),
        limit,
        phosphate,
    )
    card.rows.append(lab_row(phosphate))


def _product(card: _Card, config: RuleConfig, snapshot: PatientSnapshot, product: LabResult) -> None:
    limit, setting = product_limit(snapshot, config)
    if not limit.met_by(product):
        return
    text = config.text
    value = config.present.number(product.analyte, product.value, product.unit)
    reason = text["reasonProduct"].format(
        value=value, day=product.day.isoformat(), comparison=COMPARISON_WORDS[limit.comparison],
        limit=f"{limit.cited_value:g}", setting=text[setting],
    )  # fmt: skip
    card.add("product", text["summaryProduct"].format(value=value), reason, limit, product)
    card.rows.append(lab_row(product))


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    """At most one finding: the newest calcium's grade, hyperphosphatemia, and a high same-day Ca×P."""
    snapshot = given.snapshot
    since = now - config.windows["labs"].delta
    reading = latest_calcium(snapshot, since)
    phosphate = recent(snapshot, "phosphate", since)
    product = recent(snapshot, "calcium-phosphate-product", since)
    card = _Card()
    if reading:
        _calcium(card, config, snapshot, reading)
    if phosphate:
        _phosphate(card, config, snapshot, phosphate)
    if product and phosphate and reading and product.day == phosphate.day == reading.result.day:
        _product(card, config, snapshot, product)
    if not card.kinds:
        return []
    hypercalcemia = any(kind in ("mild", "moderate", "severe") for kind in card.kinds)
    if "product" in card.kinds and reading and not hypercalcemia:
        card.rows[:0] = lab_rows(snapshot, reading.result)  # the calcium behind the product
    windows = (since, now - config.windows["medications"].delta)
    extra: Contribution = contributors(snapshot, config, windows, hypercalcemia, "product" in card.kinds)
    text, grades = config.text, [config.grades[k] for k in card.kinds]
    severe = "severe" in card.kinds
    summary = text["summaryEmergency" if severe else "summary"].format(parts=", ".join(card.parts))
    orders = [o for o in config.orders if not (snapshot.on_dialysis and o.key in ON_DIALYSIS_NOT_NEEDED)]
    indicator = strongest(g.indicator for g in grades)
    return [
        Finding(
            rule=config.rule,
            indicator=indicator,
            rank=max(g.rank for g in grades),
            summary=summary,
            reasons=(
                *([text["reasonEmergency"]] if severe else []),
                *card.reasons,
                *extra.reasons,
                text["context"],
                text["advisory"],
            ),
            evidence=(*card.rows, *extra.rows),
            not_used=not_used(snapshot, (*READS, *ordered_analytes(config.orders))),
            citations=cited(
                (u.cited for u in card.used),
                *(config.grade_citations.get(k, ()) for k in card.kinds),
                extra.citations,
                config.citations,
            ),
            workup=missing_orders(snapshot, orders, now - config.windows["workup"].delta),
            tags=frozenset(card.kinds),
            drivers=frozenset(card.drivers),
        )
    ]
