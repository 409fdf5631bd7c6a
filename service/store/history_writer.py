"""Card history written off the request path: a bounded in-process queue drained by one writer task.

Why: a hook call must not wait for the database (SQLite lets one writer in at a time and makes the others
wait up to its busy timeout; a PostgreSQL table lock or a slow disk holds a writer as long as it lasts).
The hook hands its record to :meth:`HistoryWriter.submit`, which never blocks, and answers; one task,
started and stopped with the app (lifespan), takes what is queued, up to ``CDS_HISTORY_BATCH_SIZE``
records, and writes it in one transaction.

What may be lost, and what is counted (``cds_history_dropped_total{reason}``):

- queue full (``CDS_HISTORY_QUEUE_SIZE`` records waiting, e.g. the database has been locked for a while):
  the new record is dropped and counted (``queue-full``); the cards are sent all the same. Submitting never
  waits.
- the database fails (locked, unreachable): each failed attempt is counted
  (``cds_storage_failures_total{operation="write"}``) and the batch is tried again, at most
  ``RETRY_MAX_S`` apart, until it is written: nothing is lost while the queue has room.
- the database refuses a batch for its content (an integrity or data error): the records are written one
  by one, and a record refused on its own is dropped and counted (``refused``).
- graceful shutdown (SIGTERM): the lifespan drains the queue for up to ``CDS_HISTORY_DRAIN_TIMEOUT_S``;
  what is left is dropped, counted (``shutdown``) and logged.
- crash (SIGKILL, power loss): the records not yet written are lost - at most the queue's content, in normal
  operation the calls of the last few milliseconds. Card history is an audit trail and the memory of
  suppression, not clinical data: a lost record means at worst that a card is shown once more. Feedback is
  never queued: it keeps its commit-before-200 guarantee (``service.api.feedback``), and feedback on a card
  still queued here writes that card's row in its own transaction (:attr:`HistoryWriter.pending`), so a
  card with acknowledged feedback is never among the lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from service.metrics import Metrics
from service.store.records import CallRecord
from service.store.repository import Store

log = logging.getLogger("calcinosis_cds.history")
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 2.0
REFUSED = (IntegrityError, DataError)


class HistoryWriter:
    def __init__(self, store: Store, metrics: Metrics, capacity: int, batch_size: int) -> None:
        self._store = store
        self._metrics = metrics
        self._queue: asyncio.Queue[CallRecord] = asyncio.Queue(capacity)
        self._batch_size = batch_size
        self._batch: list[CallRecord] = []
        self._pending: dict[str, CallRecord] = {}
        self._task: asyncio.Task[None] | None = None
        metrics.history_queue.set_function(self._queue.qsize)

    @property
    def pending(self) -> Mapping[str, CallRecord]:
        """The calls whose cards were sent but are not yet in the card history (queued or being written), by
        card uuid."""
        return self._pending

    def submit(self, call: CallRecord) -> None:
        """Queue ``call`` for writing; drop and count it when the queue is full. Never waits."""
        if not call.issued and not call.suppressed:
            return
        try:
            self._queue.put_nowait(call)
        except asyncio.QueueFull:
            self._dropped("queue-full", 1)
            return
        self._pending.update(dict.fromkeys(call.card_uuids, call))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="card-history-writer")

    async def stop(self, drain_timeout_s: float) -> None:
        """Write what is queued (for at most ``drain_timeout_s``), then stop; count what is left."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        left = self._queue.qsize() + len(self._batch)
        if left:
            self._dropped("shutdown", left)

    async def _run(self) -> None:
        while True:
            self._batch = [await self._queue.get()]
            while len(self._batch) < self._batch_size and not self._queue.empty():
                self._batch.append(self._queue.get_nowait())
            await self._write(self._batch)
            for call in self._batch:
                for card_uuid in call.card_uuids:
                    self._pending.pop(card_uuid, None)
                self._queue.task_done()
            self._batch = []

    async def _write(self, batch: list[CallRecord]) -> None:
        """Until written: a failure is retried after a pause; a refused batch is split into single records,
        and a refused single record is dropped."""
        delay = RETRY_FIRST_S
        while True:
            try:
                await self._store.record_calls(batch)
                return
            except REFUSED as exc:
                self._failed(exc)
                if len(batch) == 1:
                    self._dropped("refused", 1)
                    return
                for call in batch:
                    await self._write([call])
                return
            except (SQLAlchemyError, OSError) as exc:
                self._failed(exc)
            await asyncio.sleep(delay)
            delay = min(2 * delay, RETRY_MAX_S)

    def _failed(self, exc: BaseException) -> None:
        self._metrics.storage_failures.labels("write").inc()
        log.error("card history write failed error=%s; retrying", type(exc).__name__)

    def _dropped(self, reason: str, count: int) -> None:
        self._metrics.history_dropped.labels(reason).inc(count)
        log.error("card history records dropped reason=%s count=%d", reason, count)
