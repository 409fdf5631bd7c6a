"""What the card history is given and what the store keeps of a hook call: the advised call (its cards, held
in memory only) and plain records with no clinical values and no card text (``service.store.repository``
reads and writes them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cards.catalog import AdvisedCard


@dataclass(frozen=True, slots=True)
class CardRecord:
    """What the history needs of one card: never its text, never a clinical value."""

    card_uuid: str
    rule_id: str
    rule_version: str
    indicator: str
    rank: int
    evidence_key: str


@dataclass(frozen=True, slots=True)
class Override:
    """A recent override of a rule for a patient, the evidence the overridden card rested on, when it was
    overridden and why (a coded reason, or only that there was a comment: its text is never kept)."""

    rank: int
    card_uuid: str
    evidence_key: str | None
    overridden_at: datetime
    reason_system: str | None
    reason_code: str | None
    has_comment: bool


@dataclass(frozen=True, slots=True)
class CallRecord:
    """The history of one hook call: the cards sent and the cards held back (with the override)."""

    service_id: str
    hook_instance: str
    patient_key: str
    issued: tuple[CardRecord, ...]
    suppressed: tuple[tuple[CardRecord, Override], ...]
    at: datetime

    @property
    def card_uuids(self) -> tuple[str, ...]:
        return tuple(card.card_uuid for card in self.issued)


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    stored: int
    duplicates: int
    unknown_cards: tuple[str, ...]
    overridden_patients: frozenset[str]  # patient keys of the cards overridden with a reason


@dataclass(frozen=True, slots=True)
class AdvisedCall:
    """One hook call's advice, for the card history to choose what is sent: the service, the call and the
    patient, the cards the rules advised (in order) and the call's clock."""

    service_id: str
    hook_instance: str
    patient_id: str
    cards: Sequence[AdvisedCard]
    now: datetime
