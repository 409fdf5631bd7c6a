"""Known calcinosis cutis without the basic workup (Reiter 2011) on record within the window."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.config import RuleConfig, load_rule
from cards.evidence import condition_row, missing_orders, not_used, ordered_analytes
from cards.finding import Finding
from cards.given import Given


@cache
def load_config() -> RuleConfig:
    return load_rule(
        "known_calcinosis",
        windows={"workup"},
        thresholds=set(),
        text={"summary", "reason", "advisory"},
        grades={"workup"},
    )


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    snapshot = given.snapshot
    diagnoses = snapshot.conditions_of(*config.concepts)
    if not diagnoses:
        return []
    missing = missing_orders(snapshot, config.orders, now - config.windows["workup"].delta)
    if not missing:
        return []
    text, grade = config.text, config.grades["workup"]
    names = ", ".join(o.display for o in config.orders if o.key in missing)
    return [
        Finding(
            rule=config.rule,
            indicator=grade.indicator,
            rank=grade.rank,
            summary=text["summary"].format(count=len(missing), plural="" if len(missing) == 1 else "s"),
            reasons=(text["reason"].format(missing=names), text["advisory"]),
            evidence=tuple({r.resource_id: condition_row(r) for r in diagnoses}.values()),
            not_used=not_used(snapshot, ordered_analytes(config.orders)),
            citations=config.citations,
            workup=(*missing, *config.also_suggest),
            tags=frozenset({"calcinosis-cutis"}),
        )
    ]
