"""Typed access to the rule data under ``cards/data`` (thresholds with unit and citation, card text).

Loaded once at start-up and checked against the terminology: a threshold whose unit is not the canonical
unit of its analyte, or that cites an unknown reference, stops the service from starting.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from terminology.knowledge import Knowledge


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
    comparison: Literal[">", ">="]
    analyte: str
    citation: str

    def met_by(self, measured: float) -> bool:
        return measured > self.value if self.comparison == ">" else measured >= self.value


class Duration(Frozen):
    value: int = Field(gt=0)
    unit: Literal["d"]
    citation: str


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
