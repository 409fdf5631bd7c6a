"""Card history and suppression around the rules: what was sent, what was held back and why.

A card is held back when a clinician overrode a card of the same rule for the same patient, with a reason
(a coded reason or a comment), within the rule's window (``CDS_SUPPRESSION_DAYS``, per rule
``CDS_SUPPRESSION_DAYS_BY_RULE``; 0 turns it off) - unless the new card is more severe than the overridden
one (higher rank: the evidence worsened), or rests on other evidence (a newer result for its analytes, a new
diagnosis or medication: the references behind the card, compared as a keyed hash), or is critical: a
critical card is never held back (one override hid a Ca 14.8 card from every clinician for 30 days).
The suppression read is on the hook's path (one indexed query), for a patient with an override only
(``service.store.override_index``); the history write is not: it is queued for the writer task
(``service.store.history_writer``). ``CardHistory.held_back`` asks the same question
without acting on the answer (the preview page: which cards would be held back, by which override, until
when).

The read waits for a database lock at most ``CDS_SUPPRESSION_READ_TIMEOUT_S`` (enforced by the database:
``service.store.engine.create_read_engine``) and is abandoned as a whole after
``CDS_SUPPRESSION_READ_DEADLINE_S`` (a hung connection, a stalled disk, an exhausted pool). The deadline is
far above the lock wait on purpose: under a burst of calls every step of the read also waits for the event
loop, busy with the other calls (with 30 concurrent calls on a loaded 2-core machine, 55 of 60 reads took
over 50 ms end to end and 4 over 0.5 s with no lock anywhere): a deadline that short would switch
suppression off under load rather than protect the call from the database. Either way, or if the database
fails, the cards are sent unfiltered (over-alerting is safer than hiding advice) and the failure is logged
and counted (``cds_storage_failures_total{operation="read-timeout"|"read"}``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from cards.catalog import AdvisedCard
from service.metrics import Metrics
from service.store.engine import is_lock_timeout
from service.store.history_writer import HistoryWriter
from service.store.override_index import OverrideIndex
from service.store.records import AdvisedCall, CallRecord, CardRecord, Override
from service.store.repository import Store

log = logging.getLogger("calcinosis_cds.history")


def _record(advised: AdvisedCard, evidence_key: str) -> CardRecord:
    return CardRecord(
        card_uuid=str(advised.card.uuid),
        rule_id=advised.rule_id,
        rule_version=advised.rule_version,
        indicator=str(advised.card.indicator),
        rank=advised.rank,
        evidence_key=evidence_key,
    )


def holding_override(card: AdvisedCard, evidence_key: str, overrides: Sequence[Override]) -> Override | None:
    """The override that still holds ``card`` back, if any: the latest of a card at least as severe, resting
    on the same evidence (the one that holds it longest). A critical card is never held back; a newer
    result, a new diagnosis or medication (other evidence) or a worse grade (higher rank) ends the
    suppression."""
    if card.card.indicator == "critical":
        return None
    holding = (o for o in overrides if card.rank <= o.rank and o.evidence_key == evidence_key)
    return max(holding, key=lambda o: o.overridden_at, default=None)


@dataclass(frozen=True, slots=True)
class HeldBack:
    """A card the hook would hold back now, the override that holds it, and the end of the rule's window
    (an override counts while ``now - window <= overridden_at``); a worse grade or other evidence ends the
    suppression earlier."""

    card: AdvisedCard
    override: Override
    until: datetime


class SuppressionReadError(Exception):
    """The suppression read gave no answer; ``operation`` is its label in ``cds_storage_failures_total``."""

    def __init__(self, operation: str, error: BaseException) -> None:
        super().__init__(operation)
        self.operation = operation
        self.error = error


class CardHistory:
    def __init__(
        self,
        store: Store,
        writer: HistoryWriter,
        overrides: OverrideIndex,
        metrics: Metrics,
        window_days: Callable[[str], int],
        read_deadline_s: float,
    ) -> None:
        self.store = store
        self._writer = writer
        self._override_index = overrides
        self._metrics = metrics
        self._window_days = window_days
        self._read_deadline_s = read_deadline_s
        self._abandoned: set[asyncio.Task[dict[str, list[Override]]]] = set()

    async def select(self, call: AdvisedCall) -> tuple[list[AdvisedCard], Callable[[], None]]:
        """The cards to send (in order), and the call that queues their history (it never blocks)."""
        patient_key = self.store.patient_key(call.patient_id)
        try:
            overrides = await self._overrides(patient_key, call.cards, call.now)
        except SuppressionReadError as failed:
            self._metrics.storage_failures.labels(failed.operation).inc()
            log.error(
                "card history %s failed error=%s; cards are sent unfiltered",
                failed.operation,
                type(failed.error).__name__,
            )
            overrides = {}
        sent: list[AdvisedCard] = []
        issued: list[CardRecord] = []
        held: list[tuple[CardRecord, Override]] = []
        for card, key, override in self._judge(call.cards, overrides):
            if override is not None:
                held.append((_record(card, key), override))
            else:
                sent.append(card)
                issued.append(_record(card, key))
        for card in sent:
            self._metrics.cards.labels(card.rule_id, str(card.card.indicator)).inc()
        for record, override in held:
            self._metrics.suppressions.labels(record.rule_id).inc()
            log.info(
                "suppressed hookInstance=%s rule=%s overridden_card=%s",
                call.hook_instance,
                record.rule_id,
                override.card_uuid,
            )
        history = CallRecord(
            call.service_id, call.hook_instance, patient_key, tuple(issued), tuple(held), call.now
        )
        return sent, lambda: self._writer.submit(history)

    async def held_back(
        self, patient_id: str, advised: Sequence[AdvisedCard], now: datetime
    ) -> list[HeldBack] | None:
        """The cards of ``advised`` that ``select`` would hold back now (in order), or None when the read
        failed (the suppression state is unknown). A question only: nothing is written, counted or logged
        as a suppression (the preview page asks it)."""
        try:
            overrides = await self._overrides(self.store.patient_key(patient_id), advised, now)
        except SuppressionReadError as failed:
            log.warning(
                "card history %s failed error=%s; held-back cards unknown",
                failed.operation,
                type(failed.error).__name__,
            )
            return None
        return [
            HeldBack(card, override, override.overridden_at + timedelta(days=self._window_days(card.rule_id)))
            for card, _, override in self._judge(advised, overrides)
            if override is not None
        ]

    def _judge(
        self, advised: Sequence[AdvisedCard], overrides: dict[str, list[Override]]
    ) -> list[tuple[AdvisedCard, str, Override | None]]:
        """Each card (in order), its evidence key, and the override holding it back (None: it is sent)."""
        judged = []
        for card in advised:
            key = self.store.evidence_key(card.evidence)
            judged.append((card, key, holding_override(card, key, overrides.get(card.rule_id, ()))))
        return judged

    async def _overrides(
        self, patient_key: str, advised: Sequence[AdvisedCard], now: datetime
    ) -> dict[str, list[Override]]:
        """The recent overrides of the rules of ``advised`` that may hold a card back, each within its rule's
        window (no read for critical cards, a window of 0 or a patient without an override). Past the
        deadline the read is cancelled and left to unwind on its own (a query stuck in a driver may take
        seconds to notice), since the EHR is waiting. Raises ``SuppressionReadError``."""
        windows = {
            a.rule_id: now - timedelta(days=days)
            for a in advised
            if a.card.indicator != "critical" and (days := self._window_days(a.rule_id)) > 0
        }
        if not windows or not self._override_index.may_hold(patient_key):
            return {}
        read = asyncio.ensure_future(self.store.recent_overrides(patient_key, windows))
        try:
            await asyncio.wait({read}, timeout=self._read_deadline_s)
        finally:
            if not read.done():
                read.cancel()
                self._abandoned.add(read)  # the loop keeps only weak references to tasks
                read.add_done_callback(self._forget)
        if not read.done():
            raise SuppressionReadError("read-timeout", TimeoutError())
        try:
            return read.result()
        except SQLAlchemyError as exc:
            raise SuppressionReadError("read-timeout" if is_lock_timeout(exc) else "read", exc) from exc

    def _forget(self, read: asyncio.Task[dict[str, list[Override]]]) -> None:
        self._abandoned.discard(read)
        if not read.cancelled():
            read.exception()  # retrieved, so asyncio does not log it as never retrieved
