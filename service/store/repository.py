"""Reads and writes of card history, suppressions and feedback.

Card history is written in batches of hook calls, one transaction per batch (``service.store.history_writer``
drains its queue into :meth:`Store.record_calls`); suppression needs one indexed read per call for a patient
with an override (``service.store.override_index``). Feedback batches are atomic (all or nothing) and
idempotent: each item's dedupe key is a hash of its service, card, outcome, reason and timestamp, so a
redelivered batch is stored once. Feedback on a card still in the history queue writes that card's row in
its own transaction (the writer's later insert of the same card changes nothing), so feedback that got its
200 is tied to its card even if the process is killed before the queue is written.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from service.api.wire import FeedbackItem
from service.store.models import FeedbackEntry, IssuedCard, Suppression
from service.store.records import CallRecord, CardRecord, FeedbackResult, Override


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


def _issued_rows(calls: Sequence[CallRecord]) -> list[dict[str, object]]:
    return [
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


def _with_reason() -> ColumnElement[bool]:
    """An override that can hold cards back: one with a coded reason or a comment."""
    return or_(FeedbackEntry.override_reason_code.is_not(None), FeedbackEntry.has_comment.is_(True))


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
                _with_reason(),
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

    async def overridden_patients(self, since: datetime) -> set[str]:
        """Patient keys with a card overridden with a reason since ``since`` (the override index)."""
        query = (
            select(IssuedCard.patient_key)
            .distinct()
            .join(FeedbackEntry, FeedbackEntry.card_uuid == IssuedCard.card_uuid)
            .where(FeedbackEntry.outcome == "overridden", FeedbackEntry.outcome_at >= since, _with_reason())
        )
        async with self.engine.connect() as connection:
            return set((await connection.execute(query)).scalars())

    def _insert(self, model: Any) -> Any:
        """``INSERT`` of the database's dialect (for ``ON CONFLICT DO NOTHING``)."""
        return (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(model)

    async def _insert_issued(self, connection: AsyncConnection, calls: Sequence[CallRecord]) -> None:
        """The cards sent in ``calls``; a card already there (written with its feedback) is left as it is."""
        rows = _issued_rows(calls)
        if rows:
            statement = self._insert(IssuedCard).on_conflict_do_nothing(index_elements=["card_uuid"])
            await connection.execute(statement, rows)

    async def record_calls(self, calls: Sequence[CallRecord]) -> None:
        """The history of several hook calls (cards sent, cards suppressed) in one transaction."""
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
        if not any(call.issued for call in calls) and not held:
            return
        async with self.engine.begin() as connection:
            await self._insert_issued(connection, calls)
            if held:
                await connection.execute(insert(Suppression), held)

    async def store_feedback(
        self,
        service_id: str,
        items: Sequence[FeedbackItem],
        now: datetime,
        queued: Mapping[str, CallRecord] | None = None,
    ) -> FeedbackResult:
        """Store a validated batch atomically; duplicates (same dedupe key) are skipped, not errors.

        A card is known when it is in the card history or still ``queued`` for it (issued a moment ago, by
        card uuid); a queued card's row is written here, in the feedback's transaction. The queue is looked
        at *before* the history is read: the writer leaves a card's entry only after its row is committed,
        so a card is either seen in the queue or found by the read. Looked at after, a row committed while
        the read ran and then taken from the queue was in neither (CI, stop 17).
        """
        queued = queued or {}
        cards = {i.card for i in items}
        on_the_way = {c: call for c in cards if (call := queued.get(c)) is not None}
        keys = [_dedupe_key(service_id, item) for item in items]
        async with self._sessions.begin() as session:
            written = select(IssuedCard.card_uuid, IssuedCard.patient_key).where(
                IssuedCard.card_uuid.in_(cards)
            )
            patients: dict[str, str] = {uuid: key for uuid, key in await session.execute(written)}
            waiting = list({id(call): call for c, call in on_the_way.items() if c not in patients}.values())
            await self._insert_issued(await session.connection(), waiting)
            patients |= {card.card_uuid: call.patient_key for call in waiting for card in call.issued}
            rows = [
                self._row(service_id, item, key, item.card in patients, now)
                for item, key in zip(items, keys, strict=True)
            ]
            statement = self._insert(FeedbackEntry).on_conflict_do_nothing(index_elements=["dedupe_key"])
            result = await session.execute(statement.returning(FeedbackEntry.dedupe_key), rows)
            stored = len(result.all())
        overridden = frozenset(
            patients[row["card_uuid"]]
            for row in rows
            if row["known_card"]
            and row["outcome"] == "overridden"
            and (row["override_reason_code"] is not None or row["has_comment"])
        )
        return FeedbackResult(
            stored=stored,
            duplicates=len(set(keys)) - stored,
            unknown_cards=tuple(sorted(cards - patients.keys())),
            overridden_patients=overridden,
        )

    @staticmethod
    def _row(service_id: str, item: FeedbackItem, key: str, known: bool, now: datetime) -> dict[str, Any]:
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
