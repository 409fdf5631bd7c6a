"""Tumoral calcinosis pattern: confirmed hyperphosphatemia with preserved kidney function and normal PTH.

All on record in the window (a missing eGFR or PTH does not count as normal). Phosphate is judged against
the reference interval for the patient's age and sex (the pattern "mainly affects teens", whose normal
phosphate is higher than an adult's) and must be confirmed: the newest result and an earlier one on another
day both above the limit. PTH must be within its interval: a low PTH with a high phosphate is
hypoparathyroidism, and a high one hyperparathyroidism, neither of which is this pattern (the card stays
silent; the metastatic card speaks for a high phosphate). The card suggests FGF23 and referral, never
treatment.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.config import RuleConfig, load_rule
from cards.evidence import lab_row, missing_orders, not_used, ordered_analytes, recent, references
from cards.finding import Finding
from cards.given import Given
from terminology.snapshot import LabResult, PatientSnapshot


@cache
def load_config() -> RuleConfig:
    return load_rule(
        "tumoral",
        windows={"labs", "repeat"},
        thresholds={
            "phosphateAboveNormal",
            "egfrPreserved",
            "pthAtOrBelowUpperLimit",
            "pthAtOrAboveLowerLimit",
        },
        text={"summary", "reason", "pattern", "advisory"},
        grades={"pattern"},
    )


def _confirmation(
    snapshot: PatientSnapshot, config: RuleConfig, newest: LabResult, since: datetime
) -> LabResult | None:
    """An earlier phosphate, on another day in the window, also above the limit for that day."""
    gap = config.windows["repeat"].delta
    for earlier in snapshot.series("phosphate"):
        if earlier.effective < since:
            break
        apart = newest.effective - earlier.effective >= gap and earlier.day != newest.day
        if apart and config.meets("phosphateAboveNormal", snapshot, earlier):
            return earlier
    return None


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    snapshot = given.snapshot
    since = now - config.windows["labs"].delta
    t, present = config.thresholds, config.present
    phosphate, egfr, pth = (recent(snapshot, a, since) for a in ("phosphate", "egfr", "pth-intact"))
    if not (phosphate and egfr and pth):
        return []
    p_limit = config.limit("phosphateAboveNormal", snapshot, phosphate.day)  # for the patient's age and sex
    normal = (
        t["egfrPreserved"].met_by(egfr)
        and t["pthAtOrBelowUpperLimit"].met_by(pth)
        and t["pthAtOrAboveLowerLimit"].met_by(pth)
    )
    if not (p_limit and p_limit.met_by(phosphate) and normal):
        return []
    repeat = _confirmation(snapshot, config, phosphate, since)
    if repeat is None:
        return []
    text, grade = config.text, config.grades["pattern"]
    reason = text["reason"].format(
        phosphate=present.value(phosphate),
        repeat=f"{present.value(repeat)} on {repeat.day.isoformat()}",
        phosphateLimit=present.amount(p_limit.analyte, p_limit.cited_value, p_limit.unit),
        band=p_limit.band,
        egfr=present.value(egfr),
        pth=present.value(pth),
    )
    return [
        Finding(
            rule=config.rule,
            indicator=grade.indicator,
            rank=grade.rank,
            summary=text["summary"],
            reasons=(reason, text["pattern"], text["advisory"]),
            evidence=(lab_row(phosphate), lab_row(repeat, "confirms"), lab_row(egfr), lab_row(pth)),
            not_used=not_used(
                snapshot, ("phosphate", "egfr", "creatinine", "pth-intact", *ordered_analytes(config.orders))
            ),
            citations=(*config.citations[:1], p_limit.cited, *config.citations[1:]),
            workup=missing_orders(snapshot, config.orders, since),
            tags=frozenset({"phosphate"}),
            drivers=references(phosphate, repeat),
        )
    ]
