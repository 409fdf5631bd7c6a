"""Order check: a phosphate salt (IV or oral, sodium phosphate preparations too) drafted during hypercalcemia
or in CKD G4-G5.

Phosphate given to a patient whose calcium is high, or whose kidneys cannot clear it, raises the calcium-
phosphate product: the seed documents name intravenous phosphate among the causes of metastatic and
iatrogenic calcinosis, and KDIGO 2017 asks to lower raised phosphate in CKD G3a-G5D. The card warns and
offers to remove the draft; it never proposes another drug or dose.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from cards.calcium import latest_calcium
from cards.config import RuleConfig, load_rule
from cards.drafted import draft_finding
from cards.evidence import drafts_of, kidney_rows, lab_rows
from cards.finding import Evidence, Finding
from cards.given import Given
from cards.metastatic import calcium_grade

THRESHOLDS = {
    "calciumAboveNormal", "calciumModerate", "calciumSevere", "ionizedAboveNormal", "ionizedModerate",
    "ionizedSevere", "ckdSevere",
}  # fmt: skip
GRADE_WORDS = {"grade_mild", "grade_moderate", "grade_severe"}


@cache
def load_config() -> RuleConfig:
    return load_rule(
        "order_phosphate",
        windows={"labs"},
        thresholds=THRESHOLDS,
        text={
            "summaryCalcium",
            "summaryKidney",
            "reasonCalcium",
            "reasonKidney",
            "advisory",
            "settingDialysis",
            "settingCkd",
            *GRADE_WORDS,
        },
        grades={"risk"},
    )


def evaluate(given: Given, config: RuleConfig, now: datetime) -> list[Finding]:
    snapshot = given.snapshot
    drafts = drafts_of(given.drafts, config.medication_concepts)
    if not drafts:
        return []
    reading = latest_calcium(snapshot, now - config.windows["labs"].delta)
    graded = calcium_grade(reading, config, snapshot) if reading else None
    severe_ckd = snapshot.ckd is not None and config.thresholds["ckdSevere"].met_by(float(snapshot.ckd.stage))
    if not (graded or severe_ckd or snapshot.on_dialysis):
        return []
    text, present, grade = config.text, config.present, config.grades["risk"]
    what = ", ".join(dict.fromkeys(d.display for d in drafts))
    rows: list[Evidence] = []
    if graded and reading:
        label = text[f"grade_{graded[0]}"]
        value = present.value(reading.result)
        summary = text["summaryCalcium"].format(basis=reading.basis_word, value=value)
        reason = text["reasonCalcium"].format(what=what, value=value, grade=label, basis=reading.basis_word)
        rows += lab_rows(snapshot, reading.result)
    else:
        setting = (
            text["settingDialysis"]
            if snapshot.on_dialysis or snapshot.ckd is None
            else text["settingCkd"].format(stage=snapshot.ckd.label)
        )
        summary = text["summaryKidney"].format(setting=setting)
        reason = text["reasonKidney"].format(what=what, setting=setting)
        rows += kidney_rows(snapshot)
    reasons = (reason, text["advisory"])
    return [draft_finding(config, grade, drafts, summary, reasons, rows, tags=frozenset({"phosphate-load"}))]
