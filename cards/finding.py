"""What a rule found, before it becomes a card: the evidence, the grade, the words and the missing workup."""

from __future__ import annotations

from dataclasses import dataclass

from cards.config import RuleInfo
from terminology.snapshot import LabResult


@dataclass(frozen=True, slots=True)
class Evidence:
    """One row of a card's evidence table (test, result, date, note) and where it came from.

    The table is what a clinician reads; ``reference`` (the FHIR resources the row rests on) and ``code``
    (the code as sent) are provenance for a reviewer, kept out of the table (``cards.render``). A row made
    from a laboratory result keeps the ``lab`` result itself: the renderer writes its name, value and units
    at clinical precision.
    """

    test: str
    result: str
    date: str
    note: str = ""
    reference: str = ""
    code: str = ""
    lab: LabResult | None = None


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
    # The values (resource references) that made this finding: ``combine`` lets one value drive one card.
    drivers: frozenset[str] = frozenset()
    # Draft orders (references such as "MedicationRequest/1") the card offers to remove: CDS Hooks allows a
    # delete action on a draft; a card never proposes another drug or dose.
    removable: tuple[tuple[str, str], ...] = ()  # (reference, what it is)
    # The references of findings folded into this one (``combine``): kept in the card's provenance, not
    # shown as links, so that the card fits the EHR's panel (DESIGN.md § 5).
    also_cited: tuple[str, ...] = ()
