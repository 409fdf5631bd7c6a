"""What the record shows that adds to, or may cause, metastatic calcification (``data/metastatic.json``).

Kidney failure (dialysis, CKD G4-G5 or eGFR below 30), hyperparathyroidism (coded, or PTH above the limit:
on dialysis KDIGO 2017's 9 x ULN), vitamin D excess (coded, or 25-OH D above the toxic level; with
hypercalcemia the card names vitamin D toxicity), sarcoidosis with hypercalcemia, and — with hypercalcemia or
a high Ca×P — the calcium and vitamin D products on the medication list (supplements, calcium-based
binders, nutritional and active vitamin D), which the seed documents name as causes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cards.config import RuleConfig
from cards.evidence import condition_row, current_medications, kidney_rows, lab_row, medication_row, recent
from cards.finding import Evidence
from terminology.snapshot import PatientSnapshot


@dataclass
class Contribution:
    reasons: list[str] = field(default_factory=list)
    rows: list[Evidence] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)


def _kidney(snapshot: PatientSnapshot, config: RuleConfig, since: datetime, out: Contribution) -> None:
    t = config.thresholds
    egfr = recent(snapshot, "egfr", since)
    severe_ckd = snapshot.ckd is not None and t["ckdSevere"].met_by(float(snapshot.ckd.stage))
    low_egfr = egfr is not None and t["egfrBelow30"].met_by(egfr)
    if not (snapshot.on_dialysis or severe_ckd or low_egfr):
        return
    if snapshot.on_dialysis:
        what = "on dialysis"
    else:
        what = snapshot.ckd.label if snapshot.ckd and severe_ckd else "eGFR below 30"
    rows = kidney_rows(snapshot)
    staged_by_egfr = (
        snapshot.ckd is not None and egfr is not None and snapshot.ckd.reference.endswith(egfr.resource_id)
    )
    out.reasons.append(config.text["reasonCkd"].format(what=what))
    out.rows += [*rows, *([lab_row(egfr)] if egfr and not (rows and staged_by_egfr) else [])]
    out.citations.append(t["egfrBelow30"].cited)


def _parathyroid(snapshot: PatientSnapshot, config: RuleConfig, since: datetime, out: Contribution) -> None:
    t, present = config.thresholds, config.present
    pth = recent(snapshot, "pth-intact", since)
    hpt = snapshot.conditions_of(config.concept("hyperparathyroidism"))
    # On dialysis, KDIGO 2017 targets PTH at 2-9 times the upper limit: only above that counts here.
    limit = t["pthAboveDialysisTarget" if snapshot.on_dialysis else "pthAboveNormal"]
    if hpt or (pth is not None and limit.met_by(pth)):
        shown = present.amount(limit.analyte, limit.cited_value, limit.unit)
        out.reasons.append(config.text["reasonPth"].format(limit=shown))
        out.rows += [condition_row(c) for c in hpt] + ([lab_row(pth)] if pth else [])
        out.citations.append(limit.cited)


def _vitamin_d(
    snapshot: PatientSnapshot, config: RuleConfig, since: datetime, hypercalcemia: bool, out: Contribution
) -> None:
    limit, present = config.thresholds["vitaminDToxic"], config.present
    level = recent(snapshot, "vitamin-d-25-hydroxy", since)
    excess = snapshot.conditions_of(config.concept("vitaminDExcess"))
    toxic = level is not None and limit.met_by(level)
    if not (excess or toxic):
        return
    shown = present.amount(limit.analyte, limit.cited_value, limit.unit)
    if toxic and hypercalcemia and level is not None:
        out.reasons.append(
            config.text["reasonVitaminDToxicity"].format(value=present.value(level), limit=shown)
        )
    else:
        out.reasons.append(config.text["reasonVitaminD"].format(limit=shown))
    out.rows += [condition_row(c) for c in excess] + ([lab_row(level)] if level else [])
    out.citations.append(limit.cited)


def contributors(
    snapshot: PatientSnapshot,
    config: RuleConfig,
    windows: tuple[datetime, datetime],
    hypercalcemia: bool,
    high_product: bool,
) -> Contribution:
    """Contributing factors present, with their evidence and the references they rely on; ``windows`` are
    the starts of the lab and the medication windows."""
    since, meds_since = windows
    out = Contribution()
    _kidney(snapshot, config, since, out)
    _parathyroid(snapshot, config, since, out)
    _vitamin_d(snapshot, config, since, hypercalcemia, out)
    sarcoid = snapshot.conditions_of(config.concept("sarcoidosis"))
    if hypercalcemia and sarcoid:
        out.reasons.append(config.text["reasonSarcoidosis"])
        out.rows += [condition_row(c) for c in sarcoid]
    supply = config.medication_concepts  # the calcium and vitamin D products (metastatic.json)
    supplied = {m.resource_id: m for c in supply for m in current_medications(snapshot, c, meds_since)}
    if supplied and (hypercalcemia or high_product):
        names = ", ".join(dict.fromkeys(m.display for m in supplied.values()))
        out.reasons.append(config.text["reasonMedications"].format(products=names))
        out.rows += [medication_row(m) for m in supplied.values()]
    return out
