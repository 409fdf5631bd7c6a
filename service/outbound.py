"""Which URLs the service may call: the FHIR server allowlist and the same-base guard.

Both checks compare scheme, host, port and a path prefix on segment boundaries, and refuse userinfo,
fragments and relative URLs, so ``https://ehr.example@evil.test`` or ``https://ehr.example.evil.test``
never pass for ``https://ehr.example``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class UrlPrefix:
    """A normalised (scheme, host, port, path) prefix."""

    scheme: str
    host: str
    port: int
    path: str

    def contains(self, url: str) -> bool:
        """True when ``url`` is this prefix or lies below it."""
        try:
            other = _split(url)
        except ValueError:
            return False
        if (other.scheme, other.host, other.port) != (self.scheme, self.host, self.port):
            return False
        base = self.path.rstrip("/")
        return other.path == base or other.path.startswith(base + "/")


def _split(url: str) -> UrlPrefix:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"only http(s) URLs are allowed, got scheme {scheme!r}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("URLs with userinfo are not allowed")
    if not parts.hostname:
        raise ValueError("URL has no host")
    port = parts.port if parts.port is not None else DEFAULT_PORTS[scheme]
    return UrlPrefix(scheme, parts.hostname.lower(), port, parts.path or "/")


def parse_allowlist_entry(entry: str) -> UrlPrefix:
    """Parse one allowlist entry; raises ``ValueError`` with a readable reason."""
    prefix = _split(entry)
    if urlsplit(entry).query or urlsplit(entry).fragment:
        raise ValueError(f"allowlist entry {entry!r} must not carry a query or fragment")
    return prefix


@dataclass(frozen=True, slots=True)
class Allowlist:
    """The parsed ``CDS_FHIR_SERVER_ALLOWLIST``, built once per app. Empty allows any http(s) URL."""

    prefixes: tuple[UrlPrefix, ...]

    @classmethod
    def from_entries(cls, entries: list[str]) -> Allowlist:
        return cls(tuple(parse_allowlist_entry(entry) for entry in entries))

    def allows(self, url: str) -> bool:
        """Whether the service may call ``url``."""
        if not self.prefixes:
            try:
                _split(url)
            except ValueError:
                return False
            return True
        return any(prefix.contains(url) for prefix in self.prefixes)


def is_within(url: str, base: str) -> bool:
    """Whether ``url`` lies under the FHIR base ``base`` (paging links, absolute references)."""
    try:
        return _split(base).contains(url)
    except ValueError:
        return False
