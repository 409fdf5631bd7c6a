"""Metastatic calcification risk: hypercalcemia (graded) and a high calcium-phosphate product.

Reads only the snapshot. Thresholds, grades, words and citations are in ``data/metastatic.json``:
hypercalcemia above 10.5 mg/dL, moderate from 12, severe from 14 (StatPearls); Ca x P >= 55 mg2/dL2
(KDOQI 2003, Guideline 6), with KDIGO 2017's caveat that calcium and phosphate are better judged
individually.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from pydantic import Field

from cards.config import Duration, Frozen, Grade, RuleInfo, Threshold, read_data
from cards.finding import Evidence, Finding
from terminology.snapshot import LabResult, PatientSnapshot


class Thresholds(Frozen):
    calcium_above_normal: Threshold = Field(alias="calciumAboveNormal")
    calcium_moderate: Threshold = Field(alias="calciumModerate")
    calcium_severe: Threshold = Field(alias="calciumSevere")
    calcium_phosphate_product: Threshold = Field(alias="calciumPhosphateProduct")


class Analytes(Frozen):
    calcium: str
    phosphate: str
    product: str


class Text(Frozen):
    summary_calcium: str = Field(alias="summaryCalcium")
    summary_product: str = Field(alias="summaryProduct")
    summary_both: str = Field(alias="summaryBoth")
    reason_calcium: str = Field(alias="reasonCalcium")
    reason_product: str = Field(alias="reasonProduct")
    context: str
    advisory: str
    product_item: str = Field(alias="productItem")


class MetastaticConfig(Frozen):
    rule: RuleInfo
    analytes: Analytes
    lookback_days: Duration = Field(alias="lookbackDays")
    thresholds: Thresholds
    grades: dict[str, Grade]
    text: Text
    citations: tuple[str, ...]


@cache
def load_config() -> MetastaticConfig:
    return MetastaticConfig.model_validate(read_data("metastatic.json"))


def _recent(results: tuple[LabResult, ...], since: datetime) -> LabResult | None:
    latest = results[0] if results else None
    return latest if latest is not None and latest.effective >= since else None


def _calcium_grade(calcium: LabResult, config: MetastaticConfig) -> str | None:
    """The grade the result is certainly in; a "<" result (an upper bound) never raises a grade."""
    t = config.thresholds
    least = calcium.lower_bound
    if least is None:
        return None
    if t.calcium_severe.met_by(least):
        return "severe"
    if t.calcium_moderate.met_by(least):
        return "moderate"
    if t.calcium_above_normal.met_by(least):
        return "mild"
    return None


def _evidence(result: LabResult) -> Evidence:
    return Evidence(
        item=f"{result.display} ({result.code})",
        reported=f"{result.reported_value:g} {result.reported_unit}",
        canonical=f"{result.value:.2f} {result.unit}",
        date=result.day.isoformat(),
        source=f"Observation/{result.resource_id}",
    )


def evaluate(snapshot: PatientSnapshot, config: MetastaticConfig, now: datetime) -> list[Finding]:
    """At most one finding: the calcium grade and/or the Ca x P product of the latest same-day pair."""
    since = now - timedelta(days=config.lookback_days.value)
    calcium = _recent(snapshot.series(config.analytes.calcium), since)
    phosphate = _recent(snapshot.series(config.analytes.phosphate), since)
    grade = _calcium_grade(calcium, config) if calcium else None
    product_limit = config.thresholds.calcium_phosphate_product
    latest_product = _recent(snapshot.series(config.analytes.product), since)
    # Only the product of the latest calcium and phosphate speaks for the patient today.
    product = (
        latest_product.value
        if latest_product and calcium and phosphate and latest_product.day == calcium.day == phosphate.day
        else None
    )
    high_product = product is not None and product_limit.met_by(product)
    if grade is None and not high_product:
        return []
    text = config.text
    words = {
        "grade": config.grades[grade].label if grade else "",
        "calcium": f"{calcium.value:.1f}" if calcium else "",
        "product": f"{product:.0f}" if product is not None else "",
        "limit": f"{product_limit.value:g}",
        "day": calcium.day.isoformat() if calcium else "",
    }
    reasons: list[str] = []
    evidence: list[Evidence] = [_evidence(calcium)] if calcium else []
    if grade:
        above = f"{config.thresholds.calcium_above_normal.value:g}"
        reasons.append(text.reason_calcium.format(**{**words, "limit": above}))
    if high_product and calcium and phosphate and product is not None:
        reasons.append(text.reason_product.format(**words))
        evidence.append(_evidence(phosphate))
        evidence.append(
            Evidence(
                item=text.product_item,
                reported="",
                canonical=f"{product:.1f} {product_limit.unit}",
                date=calcium.day.isoformat(),
                source="derived",
                derived_from=" × ".join(latest_product.derived_from) if latest_product else "",
            )
        )
    reasons.extend([text.context, text.advisory])
    template = (
        text.summary_both
        if grade and high_product
        else text.summary_calcium
        if grade
        else text.summary_product
    )
    severity = max(
        (config.grades[g] for g in (grade, "product" if high_product else None) if g), key=lambda g: g.rank
    )
    used_analytes = {config.analytes.calcium, config.analytes.phosphate}
    return [
        Finding(
            rule=config.rule,
            indicator=severity.indicator,
            rank=severity.rank,
            summary=template.format(**words),
            reasons=tuple(reasons),
            evidence=tuple(evidence),
            not_used=tuple(
                f"{i.resource_type}/{i.resource_id}: {i.detail} ({i.reason})"
                for i in snapshot.ignored
                if i.analyte in used_analytes
            ),
            citations=config.citations,
        )
    ]
