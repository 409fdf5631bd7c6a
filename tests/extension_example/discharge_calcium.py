"""Example pathway: a high calcium during the stay, at discharge (CDS Hooks library ``encounter-discharge``).

The whole of a pathway: its data (``discharge_calcium.json``) loaded and checked by ``load_rule``, and a pure
``evaluate(given, config, now)``; nothing else in ``cards`` changes.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.config import RuleConfig, load_rule
from cards.evidence import lab_rows, recent, references
from cards.finding import Finding
from cards.given import Given


@cache
def load_config() -> RuleConfig:
    return load_rule(
        "discharge_calcium",
        windows={"stay"},
        thresholds={"calciumAboveNormal"},
        text={"summary", "reason"},
        grades={"recheck"},
    )


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    snapshot = given.snapshot
    result = recent(snapshot, "calcium-total", now - config.windows["stay"].delta)
    if result is None or not config.meets("calciumAboveNormal", snapshot, result):
        return []
    grade = config.grades["recheck"]
    return [
        Finding(
            rule=config.rule,
            indicator=grade.indicator,
            rank=grade.rank,
            summary=config.text["summary"],
            reasons=(config.text["reason"].format(value=config.present.value(result)),),
            evidence=tuple(lab_rows(snapshot, result)),
            not_used=(),
            citations=config.citations,
            drivers=references(result),
        )
    ]
