"""Order check: warfarin drafted for a patient in kidney failure who already has calciphylaxis risk factors.

Warfarin is itself a calciphylaxis risk factor in kidney failure (Nigwekar 2018). When it is about to be
ordered for a patient on dialysis or in CKD G5 whose chart shows other factors, a warning names them. The
card offers to remove the draft; it never proposes another anticoagulant or dose.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.calciphylaxis_factors import FACTORS, THRESHOLDS, factors_present, in_kidney_failure
from cards.config import RuleConfig, load_rule
from cards.drafted import draft_finding
from cards.evidence import cited, drafts_of, kidney_rows
from cards.finding import Finding
from cards.given import Given

FACTOR_TEXTS = tuple(f for f in FACTORS if f != "warfarin")  # warfarin is what is being ordered


@cache
def load_config() -> RuleConfig:
    return load_rule(
        "order_warfarin",
        windows={"labs", "medications"},
        thresholds=THRESHOLDS,
        text={"summary", "reason", "advisory", *(f"factor_{f}" for f in FACTOR_TEXTS)},
        grades={"risk"},
    )  # fmt: skip


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    snapshot = given.snapshot
    drafts = drafts_of(given.drafts, [config.concept("warfarin")])
    if not drafts or not in_kidney_failure(snapshot, config):
        return []
    since, meds_since = now - config.windows["labs"].delta, now - config.windows["medications"].delta
    found = {
        k: hit for k, hit in factors_present(snapshot, config, since, meds_since).items() if k != "warfarin"
    }
    if not found:
        return []
    text, grade = config.text, config.grades["risk"]
    names = ", ".join(text[f"factor_{name}"] for name in found)
    summary = text["summary"].format(count=len(found), plural="" if len(found) == 1 else "s")
    reasons = (text["reason"].format(factors=names), text["advisory"])
    chart = (*kidney_rows(snapshot), *(row for rows, _ in found.values() for row in rows))
    citations = cited(config.citations, *(keys for _, keys in found.values()))
    return [
        draft_finding(
            config,
            grade,
            drafts,
            summary,
            reasons,
            chart,
            tags=frozenset({"warfarin", *found}),
            citations=citations,
        )
    ]
