"""Metastatic calcification risk: hypercalcemia (graded), hyperphosphatemia, a high Ca×P product.

The card fires on a laboratory abnormality; CKD G4-G5 or dialysis, hyperparathyroidism, vitamin D excess
and sarcoidosis (with hypercalcemia) are added as contributing factors with their evidence. Thresholds,
grades, words and citations are in ``data/metastatic.json``: corrected calcium above 10.5 mg/dL, moderate
from 12, severe from 14 (StatPearls); ionized calcium above 5.3 mg/dL = 1.3224 mmol/L (StatPearls, kept
exact so both unit systems agree at the boundary), moderate above 1.6, severe above 1.8 mmol/L (CTCAE
v5 grades 3 and 4); hyperphosphatemia and mild hypercalcemia above the upper limit of the
reference interval for the patient's age and sex (``terminology/data/reference_intervals.json``: pediatric
bands, adult 4.5 mg/dL Mayo and 10.5 mg/dL StatPearls); Ca×P >= 55 mg²/dL² (KDOQI 2003, with KDIGO
2017's caveat; adults only).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.calcium import CalciumReading, latest_calcium
from cards.config import RuleConfig, Threshold, load_rule
from cards.evidence import (
    cited,
    condition_row,
    kidney_rows,
    lab_row,
    lab_rows,
    missing_orders,
    not_used,
    ordered_analytes,
    recent,
    strongest,
)
from cards.finding import Evidence, Finding
from terminology.snapshot import LabResult, PatientSnapshot

THRESHOLDS = {
    "calciumAboveNormal", "calciumModerate", "calciumSevere", "ionizedAboveNormal", "ionizedModerate",
    "ionizedSevere", "phosphateAboveNormal", "calciumPhosphateProduct", "pthAboveNormal",
    "pthAboveTargetDialysis", "vitaminDToxic", "egfrBelow30", "ckdSevere", "adultAge",
}  # fmt: skip
TEXT = {
    "summaryCalcium", "summaryPhosphate", "summaryProduct", "summaryTail", "reasonCalcium",
    "reasonUncorrected", "reasonPhosphate", "reasonProduct", "reasonCkd", "reasonPth", "reasonVitaminD",
    "reasonSarcoidosis", "context", "advisory", "basis_ionized", "basis_corrected", "basis_total",
}  # fmt: skip
GRADE_LIMITS = {
    "ionized": (("severe", "ionizedSevere"), ("moderate", "ionizedModerate"), ("mild", "ionizedAboveNormal")),
    "other": (("severe", "calciumSevere"), ("moderate", "calciumModerate"), ("mild", "calciumAboveNormal")),
}
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
        "metastatic", windows={"labs", "workup"}, thresholds=THRESHOLDS, text=TEXT, grades=grades
    )


def _value(result: LabResult) -> str:
    bound = f"{result.comparator} " if result.comparator else ""
    return f"{bound}{result.value:.4g} {result.unit}"


def _limit(threshold: Threshold) -> str:
    """A threshold as shown to clinicians (three significant digits: 1.3224 mmol/L shows as 1.32)."""
    return f"{threshold.value:.3g} {threshold.unit}"


def calcium_grade(reading: CalciumReading, config: RuleConfig, snapshot: PatientSnapshot) -> str | None:
    """The grade the reading is certainly in (a ``<`` result never raises one); mild is above the upper
    limit of the reference interval for the patient's age and sex."""
    limits = GRADE_LIMITS["ionized" if reading.basis == "ionized" else "other"]
    return next((grade for grade, name in limits if config.meets(name, snapshot, reading.result)), None)


Contribution = tuple[list[str], list[Evidence], list[str]]  # reasons, evidence rows, citation keys


def _kidney(snapshot: PatientSnapshot, config: RuleConfig, since: datetime) -> Contribution:
    t = config.thresholds
    egfr = recent(snapshot, "egfr", since)
    severe_ckd = snapshot.ckd is not None and t["ckdSevere"].met_by(float(snapshot.ckd.stage))
    low_egfr = egfr is not None and t["egfrBelow30"].met_by(egfr)
    if not (snapshot.on_dialysis or severe_ckd or low_egfr):
        return [], [], []
    if snapshot.on_dialysis:
        what = "on dialysis"
    else:
        what = snapshot.ckd.label if snapshot.ckd and severe_ckd else "eGFR below 30"
    rows = [*kidney_rows(snapshot), *([lab_row(egfr)] if egfr else [])]
    return [config.text["reasonCkd"].format(what=what)], rows, [t["egfrBelow30"].cited]


def _contributors(
    snapshot: PatientSnapshot, config: RuleConfig, since: datetime, hypercalcemia: bool
) -> Contribution:
    """Contributing factors present."""
    t, text = config.thresholds, config.text
    reasons, rows, citations = _kidney(snapshot, config, since)
    pth = recent(snapshot, "pth-intact", since)
    hpt = snapshot.conditions_of("hyperparathyroidism")
    # On dialysis, KDIGO 2017 targets PTH at 2-9 times the upper limit: only above that counts here.
    pth_limit = t["pthAboveTargetDialysis" if snapshot.on_dialysis else "pthAboveNormal"]
    if hpt or (pth is not None and pth_limit.met_by(pth)):
        reasons.append(text["reasonPth"].format(limit=_limit(pth_limit)))
        rows += [condition_row(c) for c in hpt] + ([lab_row(pth)] if pth else [])
        citations.append(pth_limit.cited)
    vit_d = recent(snapshot, "vitamin-d-25-hydroxy", since)
    excess = snapshot.conditions_of("hypervitaminosis-d")
    if excess or (vit_d is not None and t["vitaminDToxic"].met_by(vit_d)):
        reasons.append(text["reasonVitaminD"].format(limit=_limit(t["vitaminDToxic"])))
        rows += [condition_row(c) for c in excess] + ([lab_row(vit_d)] if vit_d else [])
        citations.append(t["vitaminDToxic"].cited)
    sarcoid = snapshot.conditions_of("sarcoidosis")
    if hypercalcemia and sarcoid:
        reasons.append(text["reasonSarcoidosis"])
        rows += [condition_row(c) for c in sarcoid]
    return reasons, rows, citations


def _is_adult(snapshot: PatientSnapshot, config: RuleConfig) -> bool:
    """Adult, or age unknown (then the adult limits apply and the card shows the values)."""
    age = snapshot.age_years
    return age is None or config.thresholds["adultAge"].met_by(float(age))


def evaluate(snapshot: PatientSnapshot, config: RuleConfig, now: datetime) -> list[Finding]:
    """At most one finding: the newest calcium's grade, hyperphosphatemia, and a high same-day Ca×P."""
    t, text = config.thresholds, config.text
    since = now - config.windows["labs"].delta
    reading = latest_calcium(snapshot, since)
    grade = calcium_grade(reading, config, snapshot) if reading else None
    adult = _is_adult(snapshot, config)
    phosphate = recent(snapshot, "phosphate", since)
    p_limit = config.limit("phosphateAboveNormal", snapshot, phosphate.day) if phosphate else None
    high_p = bool(phosphate and p_limit and p_limit.met_by(phosphate))
    product = recent(snapshot, "calcium-phosphate-product", since)
    same_day = product and phosphate and reading and product.day == phosphate.day == reading.result.day
    high_product = bool(adult and same_day and product and t["calciumPhosphateProduct"].met_by(product))
    if grade is None and not high_p and not high_product:
        return []
    parts: list[str] = []
    reasons: list[str] = []
    rows: list[Evidence] = []
    kinds: list[str] = []
    used: list[Threshold] = []
    if reading and (grade or high_product):
        rows += lab_rows(snapshot, reading.result)
    if reading and grade:
        basis = text[f"basis_{reading.basis}"]
        name = "ionizedAboveNormal" if reading.basis == "ionized" else "calciumAboveNormal"
        limit = config.limit(name, snapshot, reading.result.day)
        assert limit is not None  # noqa: S101 - the grade was met, so its limit exists
        label = config.grades[grade].label
        used.append(limit)
        parts.append(text["summaryCalcium"].format(grade=label, basis=basis, value=_value(reading.result)))
        reasons.append(
            text["reasonCalcium"].format(
                basis=basis,
                value=_value(reading.result),
                limit=_limit(limit),
                band=limit.band,
                grade=label.lower(),
            )
        )
        reasons += [text["reasonUncorrected"]] if reading.basis == "total" else []
        kinds.append(grade)
    if high_p and phosphate and p_limit:
        parts.append(text["summaryPhosphate"].format(value=_value(phosphate)))
        reasons.append(
            text["reasonPhosphate"].format(value=_value(phosphate), limit=_limit(p_limit), band=p_limit.band)
        )
        rows.append(lab_row(phosphate))
        used.append(p_limit)
        kinds.append("phosphate")
    if high_product and product:
        parts.append(text["summaryProduct"].format(value=f"{product.value:.0f}"))
        limit_text = f"{t['calciumPhosphateProduct'].value:g}"
        reasons.append(
            text["reasonProduct"].format(
                day=product.day.isoformat(), value=f"{product.value:.0f}", limit=limit_text
            )
        )
        rows.append(lab_row(product))
        used.append(t["calciumPhosphateProduct"])
        kinds.append("product")
    extra_reasons, extra_rows, extra_citations = _contributors(snapshot, config, since, grade is not None)
    grades = [config.grades[k] for k in kinds]
    orders = [o for o in config.orders if not (snapshot.on_dialysis and o.key in ON_DIALYSIS_NOT_NEEDED)]
    return [
        Finding(
            rule=config.rule,
            indicator=strongest(g.indicator for g in grades),
            rank=max(g.rank for g in grades),
            summary=", ".join(parts) + text["summaryTail"],
            reasons=(*reasons, *extra_reasons, text["context"], text["advisory"]),
            evidence=(*rows, *extra_rows),
            not_used=not_used(snapshot, (*READS, *ordered_analytes(config.orders))),
            citations=cited(
                (u.cited for u in used),
                *(config.concept_citations.get(k, ()) for k in kinds),
                extra_citations,
                config.citations,
            ),
            workup=missing_orders(snapshot, orders, now - config.windows["workup"].delta),
            tags=frozenset(kinds),
        )
    ]
