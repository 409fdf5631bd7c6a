"""Feedback that races the card-history writer, made deterministic.

The service test ``test_feedback_a_millisecond_after_its_card_survives_kill_9`` failed once in CI (stop 17):
the writer committed the card's row while the feedback's read of the history ran, and took the card from its
queue before the feedback looked there, so the card was in neither and the feedback was flagged as about an
unknown card. Here the writer's commit and its removal from the queue are placed exactly in that gap
(inside the feedback's read, by a SQLAlchemy cursor event that awaits the writer on another connection), on
a real SQLite database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.util import await_only  # SQLAlchemy 2.0 and 2.1 (there also ``await_``)

from service.api.wire import FeedbackItem
from service.store.engine import create_engine
from service.store.records import CallRecord, CardRecord
from service.store.repository import Store
from service.store.schema import ensure_schema

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SERVICE = "calcinosis-risk"


def call_with_card(card_uuid: str) -> CallRecord:
    card = CardRecord(card_uuid, "metastatic-calcification", "1", "critical", 0, "evidence")
    return CallRecord(SERVICE, "hook-1", "patient-key", (card,), (), AT)


def item(card_uuid: str) -> FeedbackItem:
    return FeedbackItem.model_validate(
        {"card": card_uuid, "outcome": "overridden", "outcomeTimestamp": "2026-11-21T12:05:00Z"}
    )


@pytest.mark.parametrize("queued_at_read", [True, False], ids=["committed-during-read", "still-queued"])
def test_a_card_written_while_its_feedback_reads_the_history_is_known(
    tmp_path: Path, queued_at_read: bool
) -> None:
    """``committed-during-read``: the writer commits the row and leaves the queue while the feedback's read
    of the history runs (the CI failure). ``still-queued``: the row is not written until the feedback writes
    it. Either way the card is known, its row is there once, and the feedback is stored once."""
    card_uuid = "b9a5537e-73c9-4470-b782-e8cd4dd379af"
    call = call_with_card(card_uuid)
    queued: dict[str, CallRecord] = {card_uuid: call}

    async def scenario() -> tuple[Any, dict[str, int]]:
        engine = create_engine(f"sqlite:///{tmp_path / 'race.db'}")
        await ensure_schema(engine, auto_migrate=True)
        store = Store(engine, b"k" * 32)
        writer = Store(create_engine(f"sqlite:///{tmp_path / 'race.db'}"), b"k" * 32)
        fired: list[str] = []

        def writer_commits_in_the_gap(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            reads_history = statement.lstrip().upper().startswith("SELECT") and "card_history" in statement
            if queued_at_read and reads_history and not fired:
                fired.append(statement)
                await_only(writer.record_calls([call]))  # the statement runs in SQLAlchemy's greenlet
                queued.pop(card_uuid)

        event.listen(engine.sync_engine, "after_cursor_execute", writer_commits_in_the_gap)
        result = await store.store_feedback(SERVICE, [item(card_uuid)], AT, queued)
        assert bool(fired) == queued_at_read, "the writer ran inside the feedback's read"
        counts = await store.counts()
        await engine.dispose()
        await writer.engine.dispose()
        return result, counts

    result, counts = asyncio.run(scenario())
    assert (result.stored, result.duplicates, result.unknown_cards) == (1, 0, ())
    assert (counts["card_history"], counts["feedback"]) == (1, 1)
