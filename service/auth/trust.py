"""Who we trust to call us: the ``CDS_TRUSTED_ISSUERS`` configuration (CDS Hooks 2.0 § Trusting CDS Clients).

``CDS_TRUSTED_ISSUERS`` is JSON mapping each issuer (``iss``) to where its public keys are: inline
(``jwks``), at a fixed URL (``jwks_url``), and/or at the URLs a token's ``jku`` header may name (``jku``
allowlist, exact match). Optional ``tenants`` restricts the ``tenant`` claim; ``algorithms`` defaults to
ES384 and RS384 (ES256/RS256 may be added; ``none`` and HS* never).
"""

from __future__ import annotations

from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, model_validator

SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"  # its private key is public: development only
Algorithm = Literal["ES384", "RS384", "ES256", "RS256"]


class AuthError(Exception):
    """A rejected token; ``reason`` is a stable code for logs and metrics, never sent to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IssuerTrust(BaseModel):
    """Where one issuer's keys come from and what its tokens may carry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    jwks: dict[str, Any] | None = None
    jwks_url: str | None = None
    jku: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    algorithms: tuple[Algorithm, ...] = ("ES384", "RS384")

    @model_validator(mode="after")
    def _has_keys(self) -> Self:
        if self.jwks is None and self.jwks_url is None and not self.jku:
            raise ValueError("a trusted issuer needs jwks, jwks_url or a jku allowlist")
        if self.jwks is not None and not isinstance(self.jwks.get("keys"), list):
            raise ValueError("jwks must be a JWK Set: an object with a 'keys' array")
        for url in (self.jwks_url, *self.jku):
            if url is not None and not (url.startswith("https://") or is_loopback_http(url)):
                raise ValueError(f"key set URLs must be https (or http on loopback, for tests): {url}")
        return self

    def key_set_urls(self) -> tuple[str, ...]:
        return tuple(u for u in (self.jwks_url, *self.jku) if u is not None)


def is_loopback_http(url: str) -> bool:
    """http:// on 127.0.0.0/8, ::1 or localhost: allowed for key sets in development and tests only."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme == "http" and (host == "localhost" or host == "::1" or host.startswith("127."))
