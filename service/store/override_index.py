"""Which patients have an override that may hold a card back, so the hook reads the database for them only.

Why: the suppression read (``service.store.history``) cost every card-issuing call one query and a hop to
the database driver's thread - 11 % of the call's Python time at 100 Observations (``bench/profile.py``,
README "Performance") - although most patients have no override at all, and without one nothing can be held
back. This index keeps, per process, the keyed patient hashes (never an id) that have an override with a
reason within the longest suppression window (``CDS_SUPPRESSION_DAYS``, ``CDS_SUPPRESSION_DAYS_BY_RULE``);
the hook reads only for them, and the read decides exactly as before. The index is

- loaded at start-up, before the first call (the lifespan awaits it);
- added to as soon as this process stores an override (``service.api.feedback``): the card's patient key
  comes from the card history, or from the history queue for a card not yet written;
- reloaded from the database every ``CDS_SUPPRESSION_REFRESH_S`` (one indexed query), so that overrides
  stored by another worker or replica count there too.

It may only err towards reading. A patient in the set whose override has expired costs one read that finds
nothing. A patient missing from it means a card that an override would hold back is shown - the same outcome
as a failed read (over-alerting, never hiding advice) - and that can happen only in a process other than the
one that stored the override, for at most ``CDS_SUPPRESSION_REFRESH_S``. Until the first load succeeds, and
after a reload fails, the index knows it is incomplete and every call reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from service.metrics import Metrics
from service.store.repository import Store

log = logging.getLogger("calcinosis_cds.history")


class OverrideIndex:
    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        horizon_days: int,
        refresh_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._horizon = timedelta(days=horizon_days)
        self._refresh_s = refresh_s
        self._clock = clock
        self._keys: set[str] = set()
        self._added: set[str] = set()  # added while a reload runs: its query may have missed them
        self._complete = False
        self._task: asyncio.Task[None] | None = None

    def may_hold(self, patient_key: str) -> bool:
        """Whether a card for this patient could be held back: read the overrides if so."""
        return not self._complete or patient_key in self._keys

    def add(self, patient_keys: Iterable[str]) -> None:
        """Patients with an override this process has just stored."""
        for key in patient_keys:
            self._keys.add(key)
            self._added.add(key)

    async def reload(self) -> None:
        """Replace the set with the database's; on failure, count it and read for every call until the
        next reload succeeds."""
        self._added = set()
        try:
            found = await self._store.overridden_patients(self._clock() - self._horizon)
        except (SQLAlchemyError, OSError) as exc:
            if self._complete:
                log.error("override index reload failed error=%s; reading for every call", type(exc).__name__)
            self._complete = False
            self._metrics.storage_failures.labels("override-index").inc()
            return
        self._keys = found | self._added
        self._complete = True

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="override-index")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            await self.reload()
