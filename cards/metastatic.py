"""Metastatic calcification risk: hypercalcemia (graded), hyperphosphatemia, a high Ca×P product.

The card fires on a laboratory abnormality; CKD G4-G5 or dialysis, hyperparathyroidism, vitamin D excess
and sarcoidosis (with hypercalcemia) are added as contributing factors with their evidence. Thresholds,
grades, words and citations are in ``data/metastatic.json``: corrected calcium above 10.5 mg/dL, moderate
from 12, severe from 14 (StatPearls); ionized calcium above 5.3 mg/dL = 1.3224 mmol/L (StatPearls, kept
exact so both unit systems agree at the boundary); phosphate above 4.5 mg/dL (Mayo
adult interval); Ca×P >= 55 mg²/dL² (KDOQI 2003, with KDIGO 2017's caveat).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.calcium import CalciumReading, latest_calcium
from cards.config import RuleConfig, load_rule
from cards.evidence import condition_row, kidney_rows, lab_row, missing_orders, not_used, recent, strongest
from cards.finding import Evidence, Finding
from terminology.snapshot import LabResult, PatientSnapshot

THRESHOLDS = {
    "calciumAboveNormal",
    "calciumModerate",
    "calciumSevere",
    "ionizedAboveNormal",
    "phosphateAboveNormal",
    "calciumPhosphateProduct",
    "pthAboveNormal",
    "vitaminDToxic",
    "egfrBelow30",
    "ckdSevere",
}
TEXT = {
    "summaryCalcium",
    "summaryPhosphate",
    "summaryProduct",
    "summaryTail",
    "reasonCalcium",
    "reasonUncorrected",
    "reasonPhosphate",
    "reasonProduct",
    "reasonCkd",
    "reasonPth",
    "reasonVitaminD",
    "reasonSarcoidosis",
    "context",
    "advisory",
    "basis_ionized",
    "basis_corrected",
    "basis_total",
}
READS = (
    "calcium-total",
    "calcium-ionized",
    "calcium-albumin-corrected",
    "albumin",
    "phosphate",
    "pth-intact",
)


@cache
def load_config() -> RuleConfig:
    return load_rule(
        "metastatic",
        windows={"labs", "workup"},
        thresholds=THRESHOLDS,
        text=TEXT,
        grades={"mild", "moderate", "severe", "ionized", "phosphate", "product"},
    )


def _value(result: LabResult) -> str:
    bound = f"{result.comparator} " if result.comparator else ""
    return f"{bound}{result.value:.4g} {result.unit}"


def calcium_grade(reading: CalciumReading, config: RuleConfig) -> str | None:
    """The grade the reading is certainly in (a ``<`` result never raises one)."""
    t = config.thresholds
    if reading.basis == "ionized":
        return "ionized" if t["ionizedAboveNormal"].met_by(reading.result) else None
    for grade, name in (
        ("severe", "calciumSevere"),
        ("moderate", "calciumModerate"),
        ("mild", "calciumAboveNormal"),
    ):
        if t[name].met_by(reading.result):
            return grade
    return None


def _contributors(
    snapshot: PatientSnapshot, config: RuleConfig, since: datetime, hypercalcemia: bool
) -> tuple[list[str], list[Evidence]]:
    """Contributing factors present: (reasons, evidence rows)."""
    t, text = config.thresholds, config.text
    reasons: list[str] = []
    rows: list[Evidence] = []
    egfr = recent(snapshot, "egfr", since)
    severe_ckd = snapshot.ckd is not None and t["ckdSevere"].met_by(float(snapshot.ckd.stage))
    if snapshot.on_dialysis or severe_ckd or (egfr is not None and t["egfrBelow30"].met_by(egfr)):
        what = (
            "on dialysis"
            if snapshot.on_dialysis
            else snapshot.ckd.label
            if severe_ckd and snapshot.ckd
            else "eGFR below 30"
        )
        reasons.append(text["reasonCkd"].format(what=what))
        rows += kidney_rows(snapshot)
        rows += [lab_row(egfr)] if egfr else []
    pth = recent(snapshot, "pth-intact", since)
    hpt = snapshot.conditions_of("hyperparathyroidism")
    if hpt or (pth is not None and t["pthAboveNormal"].met_by(pth)):
        reasons.append(text["reasonPth"])
        rows += [condition_row(c) for c in hpt] + ([lab_row(pth)] if pth else [])
    vit_d = recent(snapshot, "vitamin-d-25-hydroxy", since)
    excess = snapshot.conditions_of("hypervitaminosis-d")
    if excess or (vit_d is not None and t["vitaminDToxic"].met_by(vit_d)):
        reasons.append(
            text["reasonVitaminD"].format(limit=f"{t['vitaminDToxic'].value:g} {t['vitaminDToxic'].unit}")
        )
        rows += [condition_row(c) for c in excess] + ([lab_row(vit_d)] if vit_d else [])
    sarcoid = snapshot.conditions_of("sarcoidosis")
    if hypercalcemia and sarcoid:
        reasons.append(text["reasonSarcoidosis"])
        rows += [condition_row(c) for c in sarcoid]
    return reasons, rows


def evaluate(snapshot: PatientSnapshot, config: RuleConfig, now: datetime) -> list[Finding]:
    """At most one finding: the newest calcium's grade, hyperphosphatemia, and a high same-day Ca×P."""
    t, text = config.thresholds, config.text
    since = now - config.windows["labs"].delta
    reading = latest_calcium(snapshot, since)
    grade = calcium_grade(reading, config) if reading else None
    phosphate = recent(snapshot, "phosphate", since)
    high_p = phosphate is not None and t["phosphateAboveNormal"].met_by(phosphate)
    product = recent(snapshot, "calcium-phosphate-product", since)
    same_day = (
        product is not None
        and phosphate is not None
        and reading is not None
        and product.day == phosphate.day == reading.result.day
    )
    high_product = same_day and product is not None and t["calciumPhosphateProduct"].met_by(product)
    if grade is None and not high_p and not high_product:
        return []
    parts, reasons, rows, kinds = [], [], [], []
    if reading and grade:
        basis = text[f"basis_{reading.basis}"]
        limit = t["ionizedAboveNormal"] if reading.basis == "ionized" else t["calciumAboveNormal"]
        label = config.grades[grade].label
        parts.append(text["summaryCalcium"].format(grade=label, basis=basis, value=_value(reading.result)))
        reasons.append(
            text["reasonCalcium"].format(
                basis=basis,
                value=_value(reading.result),
                limit=f"{limit.value:g} {limit.unit}",
                grade=label.lower(),
            )
        )
        reasons += [text["reasonUncorrected"]] if reading.basis == "total" else []
        rows.append(lab_row(reading.result))
        kinds.append(grade)
    if high_p and phosphate:
        parts.append(text["summaryPhosphate"].format(value=_value(phosphate)))
        reasons.append(
            text["reasonPhosphate"].format(
                value=_value(phosphate), limit=f"{t['phosphateAboveNormal'].value:g} mg/dL"
            )
        )
        rows.append(lab_row(phosphate))
        kinds.append("phosphate")
    if high_product and product and reading and not grade:
        rows.append(lab_row(reading.result))  # the calcium the product was computed from
    if high_product and product:
        parts.append(text["summaryProduct"].format(value=f"{product.value:.0f}"))
        reasons.append(
            text["reasonProduct"].format(
                day=product.day.isoformat(),
                value=f"{product.value:.0f}",
                limit=f"{t['calciumPhosphateProduct'].value:g}",
            )
        )
        rows.append(lab_row(product))
        kinds.append("product")
    extra_reasons, extra_rows = _contributors(snapshot, config, since, grade is not None)
    grades = [config.grades[k] for k in kinds]
    indicator = strongest(g.indicator for g in grades)
    workup_since = now - config.windows["workup"].delta
    return [
        Finding(
            rule=config.rule,
            indicator=indicator,
            rank=max(g.rank for g in grades),
            summary=", ".join(parts) + text["summaryTail"],
            reasons=(*reasons, *extra_reasons, text["context"], text["advisory"]),
            evidence=(*rows, *extra_rows),
            not_used=not_used(snapshot, READS),
            citations=config.citations,
            workup=missing_orders(snapshot, config.orders, workup_since),
            tags=frozenset(kinds),
        )
    ]
