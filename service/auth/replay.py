"""The ``jti`` replay cache: each token may be used once during its lifetime (CDS Hooks 2.0 § JWT).

In Redis when ``CDS_REDIS_URL`` is set (``SET key NX EX ttl``: atomic, entries expire with the token);
otherwise in the service's database (``service.store.replay_table``), so that a restart, several workers
and several replicas on one database all share it. An in-process cache would forget every used token on
restart and could not be shared by workers, so there is none.

The cache fails closed: when it cannot be reached, ``first_use`` raises ``ReplayCacheUnavailableError``
and the call is refused with a 503 (``auth.replay-cache-unavailable``) rather than accepted unchecked;
``ping`` answers ``/readyz``. Each Redis operation has a short timeout and one immediate retry (a pooled
connection may have died with a Redis restart), so a dead Redis costs a call at most about two timeouts.
"""

from __future__ import annotations

from typing import Protocol

import redis.asyncio as redis_asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

REDIS_TIMEOUT_S = 1.0


class ReplayCacheUnavailableError(Exception):
    """The replay cache could not be reached; ``backend`` and ``error`` (a type name) are for logs/metrics."""

    def __init__(self, backend: str, error: str) -> None:
        super().__init__(f"{backend} replay cache unreachable: {error}")
        self.backend = backend
        self.error = error


class ReplayCache(Protocol):
    backend: str

    async def first_use(self, key: str, ttl_s: int) -> bool:
        """True the first time ``key`` is seen within ``ttl_s`` seconds, False on a replay."""

    async def ping(self) -> bool:
        """Whether the cache answers now (for ``/readyz``)."""

    async def close(self) -> None: ...


class RedisReplayCache:
    """Shared across replicas through Redis."""

    backend = "redis"

    def __init__(self, url: str) -> None:
        self._redis = redis_asyncio.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            retry=Retry(NoBackoff(), 1),
        )

    async def first_use(self, key: str, ttl_s: int) -> bool:
        try:
            stored = await self._redis.set(f"calcinosis-cds:jti:{key}", b"1", nx=True, ex=max(ttl_s, 1))
        except (RedisError, OSError) as exc:
            raise ReplayCacheUnavailableError(self.backend, type(exc).__name__) from exc
        return bool(stored)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()
