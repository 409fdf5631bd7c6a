"""Reads and writes of card history, suppressions and feedback.

Card history is written in batches of hook calls, one transaction per batch (``service.store.history_writer``
drains its queue into :meth:`Store.record_calls`); suppression needs one indexed read per call. Feedback
batches are atomic (all or nothing) and idempotent: each item's dedupe key is a hash of its service, card,
outcome, reason and timestamp, so a redelivered batch is stored once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from service.api.wire import FeedbackItem
from service.store.models import FeedbackEntry, IssuedCard, Suppression


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


def _dedupe_key(service_id: str, item: FeedbackItem) -> str:
    reason = item.overrideReason.reason if item.overrideReason and item.overrideReason.reason else None
    parts = (
        service_id,
        item.card,
        item.outcome,
        item.outcomeTimestamp.isoformat(),
        reason.system or "" if reason else "",
        reason.code if reason else "",
        ",".join(sorted(s.id for s in item.acceptedSuggestions or [])),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _call_columns(call: CallRecord) -> dict[str, object]:
    return {
        "service_id": call.service_id,
        "hook_instance": call.hook_instance,
        "patient_key": call.patient_key,
    }


def _card_columns(card: CardRecord) -> dict[str, object]:
    return {
        "rule_id": card.rule_id,
        "rule_version": card.rule_version,
        "indicator": card.indicator,
    }


class Store:
    """``engine`` writes (and reads feedback and reports); ``reader``, when given, serves the suppression
    read with its own bound on lock waits (``service.store.engine.create_read_engine``)."""

    def __init__(self, engine: AsyncEngine, hash_key: bytes, reader: AsyncEngine | None = None) -> None:
        self.engine = engine
        self._reader = reader or engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._key = hash_key

    def patient_key(self, patient_id: str) -> str:
        """A keyed hash of the patient id (HMAC-SHA256): stable for suppression, useless without the key."""
        return hmac.new(self._key, patient_id.encode(), hashlib.sha256).hexdigest()

    def evidence_key(self, references: Sequence[str]) -> str:
        """A keyed hash (HMAC-SHA256) of the references a card rests on: equal for the same evidence, and
        nothing of a resource id readable without the key."""
        return hmac.new(self._key, "\x1f".join(sorted(references)).encode(), hashlib.sha256).hexdigest()

    async def recent_overrides(
        self, patient_key: str, windows: dict[str, datetime]
    ) -> dict[str, list[Override]]:
        """Per rule: the cards overridden with a reason since that rule's window start."""
        if not windows:
            return {}
        with_reason = or_(
            FeedbackEntry.override_reason_code.is_not(None), FeedbackEntry.has_comment.is_(True)
        )
        in_window = or_(
            *(
                and_(IssuedCard.rule_id == rule, FeedbackEntry.outcome_at >= since)
                for rule, since in windows.items()
            )
        )
        query = (
            select(
                IssuedCard.rule_id,
                IssuedCard.rank,
                IssuedCard.card_uuid,
                IssuedCard.evidence_key,
                FeedbackEntry.outcome_at,
                FeedbackEntry.override_reason_system,
                FeedbackEntry.override_reason_code,
                FeedbackEntry.has_comment,
            )
            .join(FeedbackEntry, FeedbackEntry.card_uuid == IssuedCard.card_uuid)
            .where(
                IssuedCard.patient_key == patient_key,
                FeedbackEntry.outcome == "overridden",
                with_reason,
                in_window,
            )
        )
        async with self._reader.connect() as connection:
            rows = (await connection.execute(query)).all()
        found: dict[str, list[Override]] = {}
        for rule_id, rank, card_uuid, evidence_key, at, system, code, comment in rows:
            # SQLite keeps no time zone: what it gives back was stored in UTC (``_row``).
            at_utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
            override = Override(rank, card_uuid, evidence_key, at_utc, system, code, bool(comment))
            found.setdefault(rule_id, []).append(override)
        return found

    async def record_calls(self, calls: Sequence[CallRecord]) -> None:
        """The history of several hook calls (cards sent, cards suppressed) in one transaction."""
        cards = [
            {
                **_call_columns(call),
                **_card_columns(c),
                "rank": c.rank,
                "card_uuid": c.card_uuid,
                "issued_at": call.at,
                "evidence_key": c.evidence_key,
            }
            for call in calls
            for c in call.issued
        ]
        held = [
            {
                **_call_columns(call),
                **_card_columns(c),
                "overridden_card_uuid": o.card_uuid,
                "suppressed_at": call.at,
            }
            for call in calls
            for c, o in call.suppressed
        ]
        if not cards and not held:
            return
        async with self.engine.begin() as connection:
            if cards:
                await connection.execute(insert(IssuedCard), cards)
            if held:
                await connection.execute(insert(Suppression), held)

    async def store_feedback(
        self, service_id: str, items: Sequence[FeedbackItem], now: datetime, queued: Set[str] = frozenset()
    ) -> FeedbackResult:
        """Store a validated batch atomically; duplicates (same dedupe key) are skipped, not errors.

        A card is known when it is in the card history or still ``queued`` for it (issued a moment ago).
        """
        keys = [_dedupe_key(service_id, item) for item in items]
        async with self._sessions.begin() as session:
            known = set(
                (
                    await session.execute(
                        select(IssuedCard.card_uuid).where(IssuedCard.card_uuid.in_({i.card for i in items}))
                    )
                ).scalars()
            ) | ({i.card for i in items} & queued)
            rows = [
                self._row(service_id, item, key, item.card in known, now)
                for item, key in zip(items, keys, strict=True)
            ]
            insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
            statement = insert(FeedbackEntry).on_conflict_do_nothing(index_elements=["dedupe_key"])
            result = await session.execute(statement.returning(FeedbackEntry.dedupe_key), rows)
            stored = len(result.all())
        unknown = tuple(sorted({i.card for i in items} - known))
        return FeedbackResult(stored=stored, duplicates=len(set(keys)) - stored, unknown_cards=unknown)

    @staticmethod
    def _row(service_id: str, item: FeedbackItem, key: str, known: bool, now: datetime) -> dict[str, object]:
        reason = item.overrideReason.reason if item.overrideReason else None
        return {
            "dedupe_key": key,
            "service_id": service_id,
            "card_uuid": item.card,
            "known_card": known,
            "outcome": item.outcome,
            "accepted_suggestions": len(item.acceptedSuggestions or []),
            "override_reason_system": reason.system if reason else None,
            "override_reason_code": reason.code if reason else None,
            "has_comment": bool(item.overrideReason and item.overrideReason.userComment),
            "outcome_at": item.outcomeTimestamp.astimezone(UTC),
            "received_at": now,
        }

    async def counts(self) -> dict[str, int]:
        """Row counts (for tests and the readiness view)."""
        async with self._sessions() as session:
            return {
                model.__tablename__: int(
                    (await session.execute(select(func.count()).select_from(model))).scalar_one()
                )
                for model in (IssuedCard, Suppression, FeedbackEntry)
            }
