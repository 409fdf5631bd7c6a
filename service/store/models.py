"""The tables. Changing them needs a new Alembic revision under ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class IssuedCard(Base):
    """A card we sent (card history): ties a card uuid to the rule that produced it."""

    __tablename__ = "card_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    card_uuid: Mapped[str] = mapped_column(String(64), unique=True)
    service_id: Mapped[str] = mapped_column(String(128))
    rule_id: Mapped[str] = mapped_column(String(128))
    rule_version: Mapped[str] = mapped_column(String(32))
    indicator: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    hook_instance: Mapped[str] = mapped_column(String(128))
    patient_key: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A keyed hash of the references the card rested on (None for cards from before revision 0003).
    evidence_key: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("ix_card_history_patient_rule", "patient_key", "rule_id"),)


class Suppression(Base):
    """A card we did not send because a clinician overrode the same rule for the patient recently."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(String(128))
    rule_id: Mapped[str] = mapped_column(String(128))
    rule_version: Mapped[str] = mapped_column(String(32))
    indicator: Mapped[str] = mapped_column(String(16))
    hook_instance: Mapped[str] = mapped_column(String(128))
    patient_key: Mapped[str] = mapped_column(String(64))
    overridden_card_uuid: Mapped[str] = mapped_column(String(64))
    suppressed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FeedbackEntry(Base):
    """One feedback item (CDS Hooks 2.0 § Feedback).

    Free-text comments are never kept (they may hold patient details), only whether there was one.
    """

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    service_id: Mapped[str] = mapped_column(String(128))
    card_uuid: Mapped[str] = mapped_column(String(64), index=True)
    known_card: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(16))
    accepted_suggestions: Mapped[int] = mapped_column(Integer)
    override_reason_system: Mapped[str | None] = mapped_column(Text, nullable=True)
    override_reason_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    has_comment: Mapped[bool] = mapped_column(Boolean)
    outcome_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    # The override index reloads the overrides of the last suppression window (migration 0004).
    __table_args__ = (Index("ix_feedback_outcome_at", "outcome", "outcome_at"),)


class UsedTokenId(Base):
    """A token id seen (the jti replay cache when there is no Redis), kept until the token has expired.

    ``key_hash`` is the SHA-256 of ``iss|jti`` (fixed width, nothing of the token itself); ``expires_at``
    is in seconds since the epoch, indexed for the purge of expired rows.
    """

    __tablename__ = "used_token_ids"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
