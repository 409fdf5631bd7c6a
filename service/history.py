"""Card history and suppression around the rules: what was sent, what was held back and why.

A card is held back when a clinician overrode a card of the same rule for the same patient, with a reason
(a coded reason or a comment), within the rule's window (``CDS_SUPPRESSION_DAYS``, per rule
``CDS_SUPPRESSION_DAYS_BY_RULE``; 0 turns it off) - unless the new card is more severe than the overridden
one (higher rank: the evidence worsened). The suppression read is on the hook's path (one indexed query);
the history write runs after the response has been sent, so its commit (fsync) does not delay the EHR. If
the database cannot be read or written, the cards are sent anyway (over-alerting is safer than hiding
advice) and the failure is logged and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from cards.catalog import AdvisedCard
from service.metrics import Metrics
from service.store.repository import CardRecord, Override, Store

log = logging.getLogger("calcinosis_cds.history")


def _record(advised: AdvisedCard) -> CardRecord:
    return CardRecord(
        card_uuid=str(advised.card["uuid"]),
        rule_id=advised.rule_id,
        rule_version=advised.rule_version,
        indicator=str(advised.card["indicator"]),
        rank=advised.rank,
    )


class CardHistory:
    def __init__(self, store: Store, window_days: Callable[[str], int], metrics: Metrics) -> None:
        self.store = store
        self._window_days = window_days
        self._metrics = metrics

    async def select(
        self,
        service_id: str,
        hook_instance: str,
        patient_id: str,
        advised: Sequence[AdvisedCard],
        now: datetime,
    ) -> tuple[list[AdvisedCard], Callable[[], Awaitable[None]]]:
        """The cards to send (in order), and the history write to run once the response is on its way."""
        patient_key = self.store.patient_key(patient_id)
        windows = {
            a.rule_id: now - timedelta(days=days)
            for a in advised
            if (days := self._window_days(a.rule_id)) > 0
        }
        try:
            overrides = await self.store.recent_overrides(patient_key, windows)
        except SQLAlchemyError as exc:
            self._failed("read", exc)
            overrides = {}
        sent: list[AdvisedCard] = []
        held: list[tuple[CardRecord, Override]] = []
        for card in advised:
            override = overrides.get(card.rule_id)
            if override is not None and card.rank <= override.rank:
                held.append((_record(card), override))
            else:
                sent.append(card)
        for card in sent:
            self._metrics.cards.labels(card.rule_id, str(card.card["indicator"])).inc()
        for record, override in held:
            self._metrics.suppressions.labels(record.rule_id).inc()
            log.info(
                "suppressed hookInstance=%s rule=%s overridden_card=%s",
                hook_instance,
                record.rule_id,
                override.card_uuid,
            )

        async def write() -> None:
            try:
                await self.store.record_call(
                    service_id, hook_instance, patient_key, [_record(c) for c in sent], held, now
                )
            except SQLAlchemyError as exc:
                self._failed("write", exc)

        return sent, write

    def _failed(self, what: str, exc: SQLAlchemyError) -> None:
        self._metrics.storage_failures.labels(what).inc()
        log.error("card history %s failed error=%s; cards are sent unfiltered", what, type(exc).__name__)
