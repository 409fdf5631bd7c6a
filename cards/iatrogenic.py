"""Iatrogenic calcinosis: IV calcium or phosphate salts given or ordered in the last 14 days (configurable).

Only medications whose dosage route says intravenous count (``MedicationRecord.intravenous is True``):
the drug name alone never decides the route.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.config import RuleConfig, load_rule
from cards.evidence import medication_row
from cards.finding import Finding
from cards.given import Given
from terminology.snapshot import MedicationRecord, PatientSnapshot


@cache
def load_config() -> RuleConfig:
    config = load_rule(
        "iatrogenic",
        windows={"exposure"},
        thresholds=set(),
        text={"summary", "reason", "advisory"},
        grades={"monitor"},
    )
    missing = {f"what_{c}" for c in config.concepts} - set(config.text)
    if missing:
        raise ValueError(f"iatrogenic.json lacks text {sorted(missing)}")
    return config


def _exposures(
    snapshot: PatientSnapshot, config: RuleConfig, now: datetime
) -> list[tuple[str, MedicationRecord]]:
    # Calendar days: a dose dated 14 days ago counts whatever its time of day (or none).
    first_day, today = (now - config.windows["exposure"].delta).date(), now.date()
    return [
        (concept, m)
        for concept in config.concepts
        for m in snapshot.medications_of(concept)
        if m.intravenous is True and m.when is not None and first_day <= m.when.date() <= today
    ]


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    snapshot = given.snapshot
    exposures = sorted(_exposures(snapshot, config, now), key=lambda e: e[1].when or now, reverse=True)
    if not exposures:
        return []
    concept, latest = exposures[0]
    text, grade = config.text, config.grades["monitor"]
    when = latest.when.date().isoformat() if latest.when else ""
    return [
        Finding(
            rule=config.rule,
            indicator=grade.indicator,
            rank=grade.rank,
            summary=text["summary"].format(what=text[f"what_{concept}"], day=when),
            reasons=(text["reason"], text["advisory"]),
            evidence=tuple({m.resource_id: medication_row(m) for _, m in exposures}.values()),
            not_used=(),
            citations=config.citations,
            tags=frozenset(c for c, _ in exposures),
        )
    ]
