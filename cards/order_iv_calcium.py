"""Order check: intravenous calcium chloride or gluconate at signing.

Extravasation of intravenous calcium salts causes iatrogenic calcinosis cutis at the infusion site (Reiter
2011; the seed document on iatrogenic calcinosis cutis): an ``info`` card at signing asks for a secure line
and a check of the site. A calcium draft with no route is parenteral by its dose form ("Injectable
Solution", ``terminology``); an oral one draws nothing here.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.config import RuleConfig, load_rule
from cards.drafted import draft_finding
from cards.evidence import drafts_of
from cards.finding import Finding
from cards.given import Given


@cache
def load_config() -> RuleConfig:
    return load_rule(
        "order_iv_calcium", windows=set(), thresholds=set(), text={"summary", "reason"}, grades={"site"}
    )


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    drafts = [d for d in drafts_of(given.drafts, config.medication_concepts) if d.intravenous is True]
    if not drafts:
        return []
    text, grade = config.text, config.grades["site"]
    summary, reasons = text["summary"], (text["reason"],)
    return [
        draft_finding(
            config, grade, drafts, summary, reasons, tags=frozenset({"iv-calcium"}), removable=False
        )
    ]
