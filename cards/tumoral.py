"""Tumoral calcinosis pattern: hyperphosphatemia with preserved kidney function and non-elevated PTH.

Phosphate is judged against the reference interval for the patient's age and sex: the pattern "mainly
affects teens", whose normal phosphate is higher than an adult's.

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
        thresholds={"phosphateHigh", "egfrPreserved", "pthNotHigh"},
        text={"summary", "reason", "advisory"},
        grades={"pattern"},
    )


def _shown(result: LabResult) -> str:
    return f"{result.comparator or ''}{result.value:.4g} {result.unit}"


def evaluate(snapshot: PatientSnapshot, config: RuleConfig, now: datetime) -> list[Finding]:
    since = now - config.windows["labs"].delta
    t = config.thresholds
    phosphate, egfr, pth = (recent(snapshot, a, since) for a in ("phosphate", "egfr", "pth-intact"))
    if not (phosphate and egfr and pth):
        return []
    p_limit = config.limit("phosphateHigh", snapshot, phosphate.day)  # for the patient's age and sex
    if not (
        p_limit
        and p_limit.met_by(phosphate)
        and t["egfrPreserved"].met_by(egfr)
        and t["pthNotHigh"].met_by(pth)
    ):
        return []
    text, grade = config.text, config.grades["pattern"]
    limits = {
        f"{name}Limit": f"{limit.value:g} {limit.unit}"
        for name, limit in (("phosphate", p_limit), ("egfr", t["egfrPreserved"]), ("pth", t["pthNotHigh"]))
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
