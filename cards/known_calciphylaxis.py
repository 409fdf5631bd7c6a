"""Known calciphylaxis: a recorded diagnosis gets its own card, not a risk count.

The card names what is missing from the basic workup (calcium, phosphate, albumin, PTH within KDIGO 2017's
monitoring interval), the medications on the list that are associated with calciphylaxis (Nigwekar 2018:
warfarin, calcium-based binders, active vitamin D, calcium supplements), and suggests referral. It never
proposes stopping or changing a drug.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.config import RuleConfig, load_rule
from cards.evidence import (
    condition_row,
    current_medications,
    medication_row,
    missing_orders,
    not_used,
    ordered_analytes,
)
from cards.finding import Finding
from cards.given import Given


@cache
def load_config() -> RuleConfig:
    return load_rule(
        "known_calciphylaxis",
        windows={"workup", "medications"},
        thresholds=set(),
        text={"summary", "reason", "missing", "medications", "advisory"},
        grades={"known"},
    )


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    snapshot = given.snapshot
    diagnoses = snapshot.conditions_of(*config.concepts)
    if not diagnoses:
        return []
    text, grade = config.text, config.grades["known"]
    window = config.windows["workup"]
    missing = missing_orders(snapshot, config.orders, now - window.delta)
    meds_since = now - config.windows["medications"].delta
    meds = {
        m.resource_id: m
        for concept in config.medication_concepts
        for m in current_medications(snapshot, concept, meds_since)
    }
    reasons = [text["reason"]]
    if missing:
        names = ", ".join(o.display for o in config.orders if o.key in missing)
        reasons.append(text["missing"].format(days=window.value, missing=names))
    if meds:
        reasons.append(
            text["medications"].format(products=", ".join(dict.fromkeys(m.display for m in meds.values())))
        )
    return [
        Finding(
            rule=config.rule,
            indicator=grade.indicator,
            rank=grade.rank,
            summary=text["summary"],
            reasons=(*reasons, text["advisory"]),
            evidence=(
                *({r.resource_id: condition_row(r) for r in diagnoses}.values()),
                *(medication_row(m) for m in meds.values()),
            ),
            not_used=not_used(snapshot, ordered_analytes(config.orders)),
            citations=config.citations,
            workup=missing,
            tags=frozenset({"calciphylaxis"}),
        )
    ]
