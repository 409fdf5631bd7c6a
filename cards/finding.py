"""What a rule found, before it becomes a card: the evidence, the grade, the words and the missing workup."""

from __future__ import annotations

from dataclasses import dataclass

from cards.config import RuleInfo


@dataclass(frozen=True, slots=True)
class Evidence:
    """One row of a card's evidence table: enough for a clinician to find the source value."""

    item: str
    reported: str
    canonical: str
    date: str
    source: str
    derived_from: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's conclusion for one patient.

    ``indicator`` and ``rank`` come from the rule's data (higher rank = more severe); ``summary`` and
    ``reasons`` are already-worded sentences from the rule's text templates; ``workup`` names the orders
    (keys of terminology's orders.json) that are missing from the record and worth suggesting; ``tags``
    name what was found (e.g. ``phosphate``) so cards can be combined without repeating each other.
    """

    rule: RuleInfo
    indicator: str
    rank: int
    summary: str
    reasons: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    not_used: tuple[str, ...]
    citations: tuple[str, ...]
    workup: tuple[str, ...] = ()
    tags: frozenset[str] = frozenset()
