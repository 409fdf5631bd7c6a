"""Tumoral calcinosis pattern: hyperphosphatemia with preserved kidney function and non-elevated PTH.

All three must be on record in the window (a missing eGFR or PTH does not count as normal). The pattern
suggests FGF23 deficiency or resistance; the card suggests FGF23 and referral, never treatment.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.config import RuleConfig, load_rule
from cards.evidence import lab_row, missing_orders, not_used, ordered_analytes, recent
from cards.finding import Finding
from terminology.snapshot import LabResult, PatientSnapshot


@cache
def load_config() -> RuleConfig:
    return load_rule(
        "tumoral",
        windows={"labs"},
        thresholds={"phosphateHigh", "egfrPreserved", "pthNotHigh", "adultAge"},
        text={"summary", "reason", "advisory"},
        grades={"pattern"},
    )


def _shown(result: LabResult) -> str:
    return f"{result.comparator or ''}{result.value:.4g} {result.unit}"


def evaluate(snapshot: PatientSnapshot, config: RuleConfig, now: datetime) -> list[Finding]:
    since = now - config.windows["labs"].delta
    t = config.thresholds
    age = snapshot.age_years
    if age is not None and not t["adultAge"].met_by(float(age)):
        return []  # the phosphate limit is an adult reference interval
    phosphate, egfr, pth = (recent(snapshot, a, since) for a in ("phosphate", "egfr", "pth-intact"))
    if not (phosphate and egfr and pth):
        return []
    if not (
        t["phosphateHigh"].met_by(phosphate)
        and t["egfrPreserved"].met_by(egfr)
        and t["pthNotHigh"].met_by(pth)
    ):
        return []
    text, grade = config.text, config.grades["pattern"]
    limits = {
        f"{name}Limit": f"{t[key].value:g} {t[key].unit}"
        for name, key in (("phosphate", "phosphateHigh"), ("egfr", "egfrPreserved"), ("pth", "pthNotHigh"))
    }
    return [
        Finding(
            rule=config.rule,
            indicator=grade.indicator,
            rank=grade.rank,
            summary=text["summary"],
            reasons=(
                text["reason"].format(
                    phosphate=_shown(phosphate), egfr=_shown(egfr), pth=_shown(pth), **limits
                ),
                text["advisory"],
            ),
            evidence=(lab_row(phosphate), lab_row(egfr), lab_row(pth)),
            not_used=not_used(
                snapshot, ("phosphate", "egfr", "creatinine", "pth-intact", *ordered_analytes(config.orders))
            ),
            citations=config.citations,
            workup=missing_orders(snapshot, config.orders, since),
            tags=frozenset({"phosphate"}),
        )
    ]
