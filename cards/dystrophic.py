"""Dystrophic calcinosis in connective tissue disease: an ``info`` card on surveillance.

Fires for a present systemic sclerosis (limited/CREST first), dermatomyositis (juvenile first), lupus or
overlap diagnosis, and only when there is something to do: calcium or phosphate not checked in the last year
(suggested as draft orders), or a diagnosis new in the last 90 days; otherwise it would appear on every chart
open of every such patient. Calcium and phosphate are expected to be normal here; when they are not, the
metastatic card fires and ``combine`` drops this one. Words and prevalence are in ``data/dystrophic.json``.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.config import RuleConfig, load_rule
from cards.evidence import condition_row, missing_orders, not_used, ordered_analytes
from cards.finding import Finding
from cards.given import Given


@cache
def load_config() -> RuleConfig:
    config = load_rule(
        "dystrophic",
        windows={"labs", "newDiagnosis"},
        thresholds=set(),
        text={"summary", "reason", "advisory"},
        grades={"surveillance"},
    )
    missing = {f"{kind}_{c}" for c in config.concepts for kind in ("disease", "prevalence")} - set(
        config.text
    )
    if missing:
        raise ValueError(f"dystrophic.json lacks text {sorted(missing)}")
    return config


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    snapshot = given.snapshot
    if any(snapshot.conditions_of(concept) for concept in config.exclude_concepts):
        return []  # calcinosis is already diagnosed: the known-calcinosis pathway speaks
    present = [(concept, snapshot.conditions_of(concept)) for concept in config.concepts]
    present = [(concept, records) for concept, records in present if records]
    if not present:
        return []
    lead, _ = present[0]  # concepts are listed most specific first
    records = {r.resource_id: r for _, found in present for r in found}
    workup = missing_orders(snapshot, config.orders, now - config.windows["labs"].delta)
    new_since = (now - config.windows["newDiagnosis"].delta).date()
    new = any(day >= new_since for r in records.values() if (day := r.recorded or r.onset))
    if not (workup or new):
        return []  # nothing to do: calcium and phosphate are checked and the diagnosis is not new
    text, grade = config.text, config.grades["surveillance"]
    return [
        Finding(
            rule=config.rule,
            indicator=grade.indicator,
            rank=grade.rank,
            summary=text["summary"].format(disease=text[f"disease_{lead}"]),
            reasons=(text[f"prevalence_{lead}"], text["reason"], text["advisory"]),
            evidence=tuple(condition_row(r) for r in records.values()),
            not_used=not_used(snapshot, ordered_analytes(config.orders)),
            citations=config.concept_citations.get(lead, config.citations),
            workup=workup,
            tags=frozenset(concept for concept, _ in present),
        )
    ]
