"""The finding of an order-check pathway: what every draft-order card shares (CDS Hooks library,
``order-select`` / ``order-sign``).

The drafts lead the evidence, they are the values that drive the card (so ``combine`` folds two order
cards about the same draft into one), and the card offers to remove them (a ``delete`` action on the
draft, CDS Hooks 2.0 § Action) unless the pathway says the draft may well be needed. It never proposes
another drug or dose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cards.config import Grade, RuleConfig
from cards.evidence import draft_reference, medication_row
from cards.finding import Evidence, Finding
from terminology.snapshot import MedicationRecord


def draft_finding(
    config: RuleConfig,
    grade: Grade,
    drafts: Sequence[MedicationRecord],
    summary: str,
    reasons: tuple[str, ...],
    chart: Iterable[Evidence] = (),
    *,
    tags: frozenset[str],
    citations: tuple[str, ...] | None = None,
    removable: bool = True,
) -> Finding:
    """A finding on ``drafts``: their rows first, then the ``chart`` rows it rests on."""
    return Finding(
        rule=config.rule,
        indicator=grade.indicator,
        rank=grade.rank,
        summary=summary,
        reasons=reasons,
        evidence=(*(medication_row(d) for d in drafts), *chart),
        not_used=(),
        citations=config.citations if citations is None else citations,
        tags=tags,
        drivers=frozenset(draft_reference(d) for d in drafts),
        removable=tuple((draft_reference(d), d.display) for d in drafts) if removable else (),
    )
