"""Missing data where risk is high: dialysis, CKD stage 4-5 or connective tissue disease with no recent
calcium or phosphate. A low-key ``info`` card whose only content is the suggestion to order them; when
another card already suggests the same tests, ``combine`` drops this one. Windows follow KDIGO 2017's
monitoring intervals (G5D and G5: 1-3 months; G4: 3-6 months) and a yearly check in CTD.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.config import RuleConfig, load_rule
from cards.evidence import condition_row, kidney_rows, missing_orders, not_used, ordered_analytes
from cards.finding import Evidence, Finding
from cards.given import Given
from terminology.snapshot import PatientSnapshot


@cache
def load_config() -> RuleConfig:
    return load_rule(
        "missing_data",
        windows={"dialysis", "ckd5", "ckd4", "ctd"},
        thresholds={"ckdSevere", "ckdFailure"},
        text={"summary", "settingDialysis", "settingCkd", "settingCtd", "reason", "advisory"},
        grades={"missing"},
    )


def _setting(snapshot: PatientSnapshot, config: RuleConfig) -> tuple[str, str, tuple[Evidence, ...]] | None:
    """(window name, setting words, evidence) of the highest-risk setting the patient is in."""
    text, t = config.text, config.thresholds
    if snapshot.on_dialysis:
        return "dialysis", text["settingDialysis"], kidney_rows(snapshot)
    stage = float(snapshot.ckd.stage) if snapshot.ckd else None
    if stage is not None and t["ckdSevere"].met_by(stage):
        window = "ckd5" if t["ckdFailure"].met_by(stage) else "ckd4"
        return window, text["settingCkd"].format(stage=f"{stage:.0f}"), kidney_rows(snapshot)
    ctd = snapshot.conditions_of(*config.concepts)
    if ctd:
        return "ctd", text["settingCtd"], tuple({r.resource_id: condition_row(r) for r in ctd}.values())
    return None


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    snapshot = given.snapshot
    setting = _setting(snapshot, config)
    if setting is None:
        return []
    window_name, setting_words, evidence = setting
    window = config.windows[window_name]
    missing = missing_orders(snapshot, config.orders, now - window.delta)
    if not missing:
        return []
    text, grade = config.text, config.grades["missing"]
    names = " or ".join(o.key for o in config.orders if o.key in missing)
    return [
        Finding(
            rule=config.rule,
            indicator=grade.indicator,
            rank=grade.rank,
            summary=text["summary"].format(missing=names, days=window.value, setting=setting_words),
            reasons=(text["reason"].format(days=window.value, why=window.citation), text["advisory"]),
            evidence=evidence,
            not_used=not_used(snapshot, ordered_analytes(config.orders)),
            citations=config.citations,
            workup=missing,
            tags=frozenset({"missing-data"}),
        )
    ]
