"""Public key sets of trusted issuers: inline, from ``jwks_url``, or from an allowlisted ``jku``.

A token's ``jku`` header is followed only when it is in the issuer's allowlist (exact match) - the JOSE
libraries never follow it themselves, and following an attacker's URL would let anyone mint keys. Fetched
sets are cached and refetched on an unknown ``kid``, at most once per ``CDS_JWKS_REFRESH_INTERVAL_S`` per
URL, with the shared HTTP client, a timeout and no redirects. Keys that ``service.auth.key_policy`` refuses
are left out of a fetched set and logged with a reason code (a token naming one then fails as
``unknown-kid``); inline sets were checked whole when the settings were read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from service.auth.key_policy import VerificationKey, load_key_set
from service.auth.trust import AuthError, IssuerTrust

log = logging.getLogger("calcinosis_cds.jwks")
MAX_JWKS_BYTES = 256 * 1024


def parse_key_set(data: Any, production: bool) -> dict[str, VerificationKey]:
    """kid -> key of a JWK Set, leaving out (and logging) the keys ``service.auth.key_policy`` refuses."""
    keys, refused = load_key_set(data, production)
    for refusal in refused:
        log.warning("skipping key kid=%s reason=%s", refusal.kid[:80], refusal.reason)
    return keys


@dataclass
class _Cached:
    keys: dict[str, VerificationKey] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class KeySets:
    """Resolves (issuer, kid, jku) to a verification key."""

    def __init__(
        self, http: httpx.AsyncClient, refresh_interval_s: float, timeout_s: float, production: bool
    ) -> None:
        self._http = http
        self._refresh_interval = refresh_interval_s
        self._timeout = timeout_s
        self._production = production
        self._inline: dict[int, dict[str, VerificationKey]] = {}
        self._fetched: dict[str, _Cached] = {}

    async def key_for(self, trust: IssuerTrust, kid: str, jku: str | None) -> VerificationKey:
        inline = self._inline_keys(trust)
        if kid in inline:
            return inline[kid]
        if jku is not None and jku not in trust.jku:
            raise AuthError("jku-not-allowed")
        url = jku or trust.jwks_url
        if url is None:
            raise AuthError("unknown-kid")
        cached = self._fetched.setdefault(url, _Cached())
        if kid not in cached.keys:
            await self._refresh(url, cached)
        if kid not in cached.keys:
            raise AuthError("unknown-kid")
        return cached.keys[kid]

    def _inline_keys(self, trust: IssuerTrust) -> dict[str, VerificationKey]:
        key = id(trust)
        if key not in self._inline:
            inline = parse_key_set(trust.jwks, self._production) if trust.jwks is not None else {}
            self._inline[key] = inline
        return self._inline[key]

    async def _refresh(self, url: str, cached: _Cached) -> None:
        async with cached.lock:
            if time.monotonic() - cached.fetched_at < self._refresh_interval:
                return  # rate limit: an unknown kid does not trigger a fetch storm
            cached.fetched_at = time.monotonic()
            try:
                response = await self._http.get(
                    url, timeout=self._timeout, headers={"Accept": "application/json"}
                )
            except httpx.HTTPError as exc:
                log.warning("key set fetch failed url=%s error=%s", url, type(exc).__name__)
                return
            if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
                log.warning("key set fetch refused url=%s status=%d", url, response.status_code)
                return
            try:
                cached.keys = parse_key_set(response.json(), self._production)
            except ValueError:
                log.warning("key set is not JSON url=%s", url)
