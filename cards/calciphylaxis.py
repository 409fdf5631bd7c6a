"""Calciphylaxis risk: only in kidney failure (dialysis, or CKD stage 5), the risk factors present, counted.

Nigwekar 2018 lists the factors; no validated score exists, so the card counts the factors present and
shows each one's evidence, never a made-up score. Thresholds and words are in ``data/calciphylaxis.json``.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.calciphylaxis_factors import FACTORS, LAB_FACTORS, THRESHOLDS, factors_present, in_kidney_failure
from cards.config import RuleConfig, load_rule
from cards.evidence import (
    cited,
    kidney_rows,
    missing_orders,
    not_used,
    references,
)
from cards.finding import Finding
from cards.given import Given

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
        thresholds=THRESHOLDS,
        text=text,
        grades={"risk"},
    )


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    """One finding listing the risk factors present, for a patient on dialysis or with CKD stage 5.

    Female sex and diabetes are background: they are listed, but the card needs at least one factor that
    can change (a laboratory value, a medication, obesity). A recorded calciphylaxis has its own card
    (``known_calciphylaxis``), so no risk count is shown then.
    """
    snapshot = given.snapshot
    if not in_kidney_failure(snapshot, config) or any(
        snapshot.conditions_of(c) for c in config.exclude_concepts
    ):
        return []
    since, meds_since = now - config.windows["labs"].delta, now - config.windows["medications"].delta
    found = factors_present(snapshot, config, since, meds_since)
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
            reasons=(text["reason"].format(factors=", ".join(names)), text["advisory"]),
            evidence=(*kidney_rows(snapshot), *(row for rows, _ in found.values() for row in rows)),
            not_used=not_used(snapshot, READS),
            citations=cited(config.citations, *(keys for _, keys in found.values())),
            workup=missing_orders(snapshot, config.orders, now - config.windows["workup"].delta),
            tags=frozenset(found),
            drivers=references(*lab_drivers),
        )
    ]
