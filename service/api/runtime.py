"""What the routes need at run time, built once by the app's lifespan and handed to them as a typed
FastAPI dependency (``Annotated[Runtime, Depends(slot)]``) instead of untyped ``app.state`` attributes.

The slot is empty before start-up completes and after shut-down; a route asking for it then gets a 503
``service.starting`` (uvicorn serves no request before the lifespan has started, so only a test that
skips the lifespan can see it). ``/readyz`` asks ``slot.ready`` instead.

The dependency is a coroutine function on purpose: FastAPI runs a plain (sync) callable dependency in its
thread pool, a hand-off to another thread and back on every request (2 % of a card-issuing call's Python
time and a thread wake-up on its latency, ``bench/profile.py``, README "Performance").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from service.api.call import HookDeps
from service.auth.replay import ReplayCache
from service.auth.verifier import Verifier
from service.errors import ErrorCode, ServiceError
from service.store.history import CardHistory
from service.store.history_writer import HistoryWriter
from service.store.override_index import OverrideIndex
from service.store.repository import Store

SERVICE_UNAVAILABLE = 503


@dataclass(frozen=True, slots=True)
class Runtime:
    verifier: Verifier
    public_base_url: str | None  # CDS_PUBLIC_BASE_URL: the JWT audience's base
    replay: ReplayCache
    store: Store
    history_writer: HistoryWriter
    overrides: OverrideIndex
    hook: HookDeps
    history: CardHistory  # also ``hook.history``; the preview page asks it which cards it would hold back


class RuntimeSlot:
    """Holds the app's :class:`Runtime` while it runs; calling it is the route dependency."""

    def __init__(self) -> None:
        self._runtime: Runtime | None = None

    @contextmanager
    def holding(self, runtime: Runtime) -> Iterator[None]:
        self._runtime = runtime
        try:
            yield
        finally:
            self._runtime = None

    @property
    def ready(self) -> bool:
        return self._runtime is not None

    async def __call__(self) -> Runtime:
        return self.runtime

    @property
    def runtime(self) -> Runtime:
        """The runtime, or a 503 ``service.starting`` (:class:`ServiceError`) while there is none."""
        if self._runtime is None:
            raise ServiceError.single(
                SERVICE_UNAVAILABLE, ErrorCode.STARTING, "the service is starting; retry"
            )
        return self._runtime
