"""What a rule found, before it becomes a card: the evidence, the grade and the words to use."""

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
    ``reasons`` are already-worded sentences from the rule's text templates.
    """

    rule: RuleInfo
    indicator: str
    rank: int
    summary: str
    reasons: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    not_used: tuple[str, ...]
    citations: tuple[str, ...]
