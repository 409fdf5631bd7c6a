"""Verifying the CDS Hooks JWT on every call (CDS Hooks 2.0 § Trusting CDS Clients).

``Authorization: Bearer <JWT>`` signed by a trusted issuer with ES384/RS384 (ES256/RS256 if configured;
never ``none`` or HS*); ``aud`` is the exact URL of the endpoint called (string or array); ``exp``, ``iat``
and ``jti`` are required, ``iat`` may not be in the future beyond a small leeway, ``tenant`` must be allowed
when the issuer lists tenants, and each ``jti`` is accepted once during the token's lifetime. The key must
fit the token's ``alg`` before anything is decoded (``service.auth.key_policy``), and ``iat``/``exp`` must be
finite JSON numbers (RFC 7519 § 2 NumericDate) with ``exp`` at most ``MAX_TOKEN_LIFETIME_S`` ahead, so the
replay cache holds each ``jti`` for a bounded time. A rejection is a 401 with ``WWW-Authenticate: Bearer``
and no detail; the log gets iss, kid, jti and a reason code, never the token. A replay cache that cannot
be reached raises ``ReplayCacheUnavailableError`` (a 503: the call is neither accepted nor blamed on the
caller).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from typing import Any

import jwt

from service.auth.jwks import KeySets
from service.auth.replay import ReplayCache, ReplayCacheUnavailableError
from service.auth.trust import AuthError, IssuerTrust
from service.metrics import Metrics

log = logging.getLogger("calcinosis_cds.auth")
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]
# CDS Hooks clients mint one short-lived token per call (the specification's example lives 5 minutes);
# an hour leaves room for any client while bounding how long a jti must be remembered.
MAX_TOKEN_LIFETIME_S = 3600
# What the JOSE library raises besides PyJWTError on hostile input (e.g. a number it cannot convert).
_LIBRARY_ERRORS = (jwt.PyJWTError, ValueError, TypeError, ArithmeticError)


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("not-bearer")
    return token.strip()


class Verifier:
    """Checks tokens against the trusted issuers; counts rejections by reason."""

    def __init__(
        self,
        issuers: dict[str, IssuerTrust],
        keys: KeySets,
        replay: ReplayCache,
        leeway_s: float,
        required: bool,
        metrics: Metrics,
    ) -> None:
        self._issuers = issuers
        self._keys = keys
        self._replay = replay
        self._leeway = leeway_s
        self.required = required
        self._metrics = metrics
        self.rejections: Counter[str] = Counter()

    async def check(self, authorization: str | None, audience: str) -> dict[str, Any] | None:
        """The verified claims, None when no token was sent and none is required; raises ``AuthError``."""
        header: dict[str, Any] = {}
        claims: dict[str, Any] = {}
        try:
            token = _bearer(authorization)
            if token is None:
                if self.required:
                    raise AuthError("missing-token")
                return None
            header, claims = _unverified(token)
            verified = await self._verify(token, header, claims, audience)
        except ReplayCacheUnavailableError as err:
            self._metrics.replay_cache_failures.labels(err.backend).inc()
            log.error("replay cache unreachable backend=%s error=%s", err.backend, err.error)
            raise
        except AuthError as err:
            self.rejections[err.reason] += 1
            self._metrics.auth_rejections.labels(err.reason).inc()
            log.warning(
                "token rejected reason=%s iss=%s kid=%s jti=%s rejections=%d",
                err.reason,
                _short(claims.get("iss")),
                _short(header.get("kid")),
                _short(claims.get("jti")),
                sum(self.rejections.values()),
            )
            raise
        log.debug(
            "token verified iss=%s kid=%s jti=%s",
            _short(verified["iss"]),
            _short(header.get("kid")),
            _short(verified["jti"]),
        )
        return verified

    async def _verify(
        self, token: str, header: dict[str, Any], claims: dict[str, Any], audience: str
    ) -> dict[str, Any]:
        trust = self._issuers.get(str(claims.get("iss")))
        if trust is None:
            raise AuthError("unknown-issuer")
        alg = header.get("alg")
        if alg not in trust.algorithms:
            raise AuthError("algorithm-not-allowed")
        if header.get("typ", "JWT") != "JWT":
            raise AuthError("wrong-typ")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("missing-kid")
        jku = header.get("jku")
        key = await self._keys.key_for(trust, kid, jku if isinstance(jku, str) else None)
        if not key.verifies(str(alg)):
            raise AuthError("key-algorithm-mismatch")
        verified = _decode(token, key.jwk.key, str(alg), audience, self._leeway)
        now = time.time()
        if _numeric_date(verified, "iat") > now + self._leeway:
            raise AuthError("iat-in-future")
        expires = _numeric_date(verified, "exp")
        if expires > now + MAX_TOKEN_LIFETIME_S:
            raise AuthError("exp-too-far")
        tenant = verified.get("tenant")
        if trust.tenants and tenant not in trust.tenants:
            raise AuthError("tenant-not-allowed")
        ttl = int(expires - now + self._leeway) + 1
        if not await self._replay.first_use(f"{verified['iss']}|{verified['jti']}", ttl):
            raise AuthError("replayed-jti")
        return verified


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except _LIBRARY_ERRORS as exc:
        raise AuthError("malformed") from exc
    return header, claims


_DECODE_ERRORS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.InvalidAudienceError, "wrong-audience"),
    (jwt.MissingRequiredClaimError, "missing-claim"),
    (jwt.ImmatureSignatureError, "not-yet-valid"),
    (jwt.InvalidSignatureError, "bad-signature"),
]


def _decode(token: str, key: Any, alg: str, audience: str, leeway: float) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=audience,
            leeway=leeway,
            options={"require": REQUIRED_CLAIMS, "verify_iat": False},
        )
    except _LIBRARY_ERRORS as exc:
        reason = next((code for kind, code in _DECODE_ERRORS if isinstance(exc, kind)), "invalid-token")
        raise AuthError(reason) from exc
    return claims


def _numeric_date(claims: dict[str, Any], name: str) -> float:
    """A NumericDate claim (RFC 7519 § 2): a finite JSON number; not a string, a boolean or NaN."""
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AuthError(f"malformed-{name}")
    return float(value)


def _short(value: Any) -> str:
    """An identifier for the log, truncated (it comes from an unverified token)."""
    return str(value)[:80] if value is not None else "-"
