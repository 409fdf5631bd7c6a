"""The shared data files of ``cards/data`` every rule and card uses: the citations, the override reasons
offered on every card, the fixed card words, and the reader of any data file (CDS Hooks 2.0 § Card
Attributes: ``overrideReasons``, ``links``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Citation(Frozen):
    text: str
    url: str
    label: str
    checked: str


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
def card_words() -> dict[str, Any]:
    """The fixed words of every card (``data/render.json``)."""
    words: dict[str, Any] = read_data("render.json")
    return words


@cache
def citations() -> dict[str, Citation]:
    return {key: Citation.model_validate(c) for key, c in read_data("citations.json")["citations"].items()}


@cache
def override_reasons() -> OverrideReasons:
    return OverrideReasons.model_validate(read_data("override_reasons.json"))
