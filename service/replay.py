"""The ``jti`` replay cache: each token may be used once during its lifetime (CDS Hooks 2.0 § JWT).

In-process by default; Redis when ``CDS_REDIS_URL`` is set, so that several replicas share it
(``SET key NX EX ttl``: atomic, and entries expire with the token).
"""

from __future__ import annotations

import time
from typing import Protocol

import redis.asyncio as redis_asyncio

MAX_MEMORY_ENTRIES = 200_000


class ReplayCache(Protocol):
    async def first_use(self, key: str, ttl_s: int) -> bool:
        """True the first time ``key`` is seen within ``ttl_s`` seconds, False on a replay."""

    async def close(self) -> None: ...


class MemoryReplayCache:
    """A dict of key -> expiry, purged of expired entries when it grows."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    async def first_use(self, key: str, ttl_s: int) -> bool:
        now = time.monotonic()
        if len(self._seen) >= MAX_MEMORY_ENTRIES:
            self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
        expiry = self._seen.get(key)
        if expiry is not None and expiry > now:
            return False
        self._seen[key] = now + ttl_s
        return True

    async def close(self) -> None:
        self._seen.clear()


class RedisReplayCache:
    """Shared across replicas through Redis."""

    def __init__(self, url: str) -> None:
        self._redis = redis_asyncio.from_url(url)

    async def first_use(self, key: str, ttl_s: int) -> bool:
        stored = await self._redis.set(f"calcinosis-cds:jti:{key}", b"1", nx=True, ex=max(ttl_s, 1))
        return bool(stored)

    async def close(self) -> None:
        await self._redis.aclose()


def replay_cache(redis_url: str | None) -> ReplayCache:
    return RedisReplayCache(redis_url) if redis_url else MemoryReplayCache()
