"""Order check: calcium or vitamin D drafted during hypercalcemia or with a high Ca×P.

Calcium salts and supplements, calcium-based phosphate binders, nutritional vitamin D and calcitriol add
calcium, or its absorption, to a patient whose calcium (or calcium-phosphate product) is already high: the
seed documents name them as causes of metastatic and iatrogenic calcinosis, and KDIGO 2017 asks to avoid
hypercalcemia and to restrict calcium-based binders in CKD. The grade is the metastatic card's (each grade
with its own limit): mild is ``info``, moderate, severe and a high Ca×P ``warning``. The card offers to remove
the draft; it never proposes another drug or dose.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.calcium import latest_calcium
from cards.config import RuleConfig, load_rule
from cards.drafted import draft_finding
from cards.evidence import drafts_of, lab_row, lab_rows, recent
from cards.finding import Finding
from cards.given import Given
from cards.metastatic import GRADING_THRESHOLDS, calcium_grade, product_limit


@cache
def load_config() -> RuleConfig:
    return load_rule(
        "order_calcium",
        windows={"labs"},
        thresholds=GRADING_THRESHOLDS,
        text={"summaryCalcium", "summaryProduct", "reasonCalcium", "reasonProduct", "advisory"},
        grades={"mild", "moderate", "severe", "product"},
    )


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    snapshot = given.snapshot
    drafts = drafts_of(given.drafts, config.medication_concepts)
    if not drafts:
        return []
    since = now - config.windows["labs"].delta
    reading = latest_calcium(snapshot, since)
    graded = calcium_grade(reading, config, snapshot) if reading else None
    product = recent(snapshot, "calcium-phosphate-product", since)
    high_product = product is not None and product_limit(snapshot, config)[0].met_by(product)
    if not (graded or high_product):
        return []
    text, present = config.text, config.present
    what = ", ".join(dict.fromkeys(d.display for d in drafts))
    if graded and reading:
        grade = config.grades[graded[0]]
        value = present.value(reading.result)
        words = {"grade": grade.label.lower(), "basis": reading.basis_word, "value": value}
        summary = text["summaryCalcium"].format(**words)
        reason = text["reasonCalcium"].format(what=what, **words)
        rows = lab_rows(snapshot, reading.result)
    else:
        assert product is not None  # noqa: S101 - high_product implies a product
        grade = config.grades["product"]
        value = present.value(product)
        summary = text["summaryProduct"].format(value=value)
        reason = text["reasonProduct"].format(what=what, value=value)
        rows = [lab_row(product)]
    reasons = (reason, text["advisory"])
    return [draft_finding(config, grade, drafts, summary, reasons, rows, tags=frozenset({"calcium-load"}))]
