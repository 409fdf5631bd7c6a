"""Typed access to the rule data under ``cards/data`` (thresholds with unit and citation, card text).

Loaded once at start-up and checked against the terminology: a threshold whose unit is not the canonical
unit of its analyte, or that cites an unknown reference, stops the service from starting.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from terminology.knowledge import Knowledge, Order
from terminology.snapshot import LabResult


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Citation(Frozen):
    text: str
    url: str
    label: str
    checked: str


class Threshold(Frozen):
    """A number a rule compares against, with its unit and the reference that sets it."""

    value: float
    unit: str
    comparison: Literal[">", ">=", "<", "<="]
    analyte: str
    citation: str

    def met_by(self, result: LabResult | float) -> bool:
        """Whether a value certainly meets the threshold; a bound (``>15``, ``<2``) counts only one way."""
        low: float | None
        high: float | None
        if isinstance(result, float | int):
            low = high = float(result)
        else:
            low, high = result.lower_bound, result.upper_bound
        if self.comparison in (">", ">="):
            return low is not None and (low > self.value if self.comparison == ">" else low >= self.value)
        return high is not None and (high < self.value if self.comparison == "<" else high <= self.value)


class Duration(Frozen):
    value: int = Field(gt=0)
    unit: Literal["d"]
    citation: str

    @property
    def delta(self) -> timedelta:
        return timedelta(days=self.value)


class Grade(Frozen):
    indicator: Literal["info", "warning", "critical"]
    label: str
    rank: int


class RuleInfo(Frozen):
    id: str
    version: str
    title: str
    label: str
    topic_display: str = Field(alias="topicDisplay")


class OverrideReason(Frozen):
    code: str
    display: str


class OverrideReasons(Frozen):
    about: str
    system: str
    reasons: tuple[OverrideReason, ...]


class RuleConfig(Frozen):
    """One pathway's data file: identity, windows, thresholds (unit + citation), grades, words, workup.

    ``orders`` is filled by :meth:`bind` from the terminology's order catalogue, so rules can name missing
    workup without knowing codes.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, arbitrary_types_allowed=True
    )

    rule: RuleInfo
    windows: dict[str, Duration] = Field(default_factory=dict)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    grades: dict[str, Grade] = Field(default_factory=dict)
    text: dict[str, str]
    workup: tuple[str, ...] = ()
    concepts: tuple[str, ...] = ()
    exclude_concepts: tuple[str, ...] = Field(default=(), alias="excludeConcepts")
    concept_citations: dict[str, tuple[str, ...]] = Field(default_factory=dict, alias="conceptCitations")
    citations: tuple[str, ...]
    orders: tuple[Order, ...] = ()

    def bind(self, knowledge: Knowledge) -> RuleConfig:
        """This config with its workup resolved to orders and its thresholds checked against the units."""
        unknown = set(self.workup) - set(knowledge.orders)
        if unknown:
            raise ValueError(f"rule {self.rule.id} suggests unknown orders {sorted(unknown)}")
        check_thresholds(self.thresholds, knowledge)
        return self.model_copy(update={"orders": tuple(knowledge.orders[k] for k in self.workup)})


def load_rule(
    name: str, *, windows: set[str], thresholds: set[str], text: set[str], grades: set[str]
) -> RuleConfig:
    """A pathway's ``data/<name>.json``, refusing it when a key the rule reads is missing."""
    config = RuleConfig.model_validate(read_data(f"{name}.json"))
    for kind, wanted, present in (
        ("window", windows, config.windows),
        ("threshold", thresholds, config.thresholds),
        ("text", text, config.text),
        ("grade", grades, config.grades),
    ):
        missing = wanted - set(present)
        if missing:
            raise ValueError(f"{name}.json lacks {kind} {sorted(missing)}")
    cited = set(config.citations) | {key for keys in config.concept_citations.values() for key in keys}
    unknown = cited - set(citations())
    if unknown:
        raise ValueError(f"{name}.json cites unknown references {sorted(unknown)}")
    return config


def read_data(name: str) -> Any:
    """One JSON file of ``cards/data``."""
    return json.loads(resources.files("cards").joinpath("data", name).read_text(encoding="utf-8"))


@cache
def citations() -> dict[str, Citation]:
    return {key: Citation.model_validate(c) for key, c in read_data("citations.json")["citations"].items()}


@cache
def override_reasons() -> OverrideReasons:
    return OverrideReasons.model_validate(read_data("override_reasons.json"))


def check_thresholds(thresholds: dict[str, Threshold], knowledge: Knowledge) -> None:
    """Refuse thresholds in a unit other than their analyte's canonical unit, or with unknown citations."""
    known = citations()
    for name, threshold in thresholds.items():
        if threshold.citation not in known:
            raise ValueError(f"threshold {name} cites unknown reference {threshold.citation!r}")
        analyte = knowledge.analytes.get(threshold.analyte)
        if analyte is not None and analyte.canonical_unit != threshold.unit:
            raise ValueError(f"threshold {name} is in {threshold.unit}, not in {analyte.canonical_unit}")
