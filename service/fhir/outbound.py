"""Which URLs the service may call: one URL normaliser, the FHIR server allowlist and the same-base guard.

Every URL the service compares or requests goes through :func:`normalize_url` first: allowlist entries,
the request's ``fhirServer``, each search URL the client builds and each paging ``next`` link. The
normalised text is also what is sent, so what was checked is what goes out. Comparison is by path
segment, never by string prefix, so ``/fhirx`` is not under ``/fhir`` and ``/fhir/../admin`` (which is
``/admin``) is not either.

Normalisation follows RFC 3986: § 6.2.2.1 case (scheme and host lower-cased, percent-encodings
upper-cased), § 6.2.2.2 percent-encoded unreserved characters decoded (``%2e`` is ``.``), § 5.2.4
remove_dot_segments, § 6.2.3 scheme-based (an explicit default port dropped, empty path is ``/``); the
host's trailing dot is dropped and an internationalised host is IDNA-encoded (UTS #46), as DNS sees it.

Refused outright (``UnsafeUrlError``), because servers and proxies disagree on what they mean and a
disagreement is a way out of the allowed base:

* a scheme other than http(s), userinfo (``user@host``), a fragment, no host, a bad port;
* control characters or spaces (``urlsplit`` would silently drop tabs and newlines), and backslashes
  (browsers and some servers read them as ``/``);
* an encoded slash, backslash or percent sign in the path (``%2F``, ``%5C``, ``%25``: some servers decode
  them, once or twice, into separators or dots), and a malformed percent-encoding;
* a dot segment hidden behind path parameters (``..;x``: Tomcat and Jetty strip ``;x`` and then go up).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 § 3.3 pchar without pct-encoded (kept as is), plus "/" in paths and "/?" in queries (§ 3.4).
_PATH_SAFE = "!$&'()*+,;=:@/-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_PERCENT = re.compile(r"%(..)?")
_HEX = frozenset("0123456789abcdefABCDEF")
_REFUSED_IN_PATH = ("%2F", "%5C", "%25")
_HOST = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\]")  # labels, none empty; or an IP literal


class UnsafeUrlError(ValueError):
    """A URL the service will neither compare nor call; the message says why (no URL is echoed)."""


@dataclass(frozen=True, slots=True)
class NormalUrl:
    """An absolute http(s) URL in normal form; ``str()`` gives the text that is sent."""

    scheme: str
    host: str
    port: int
    path: str
    query: str | None = None

    def __str__(self) -> str:
        port = "" if self.port == DEFAULT_PORTS[self.scheme] else f":{self.port}"
        query = "" if self.query is None else f"?{self.query}"
        return f"{self.scheme}://{self.host}{port}{self.path}{query}"

    @property
    def segments(self) -> tuple[str, ...]:
        """The path's segments; a trailing ``/`` adds none (``/fhir/`` and ``/fhir`` are one base)."""
        return tuple(self.path.rstrip("/").split("/")[1:])

    def contains(self, other: NormalUrl) -> bool:
        """True when ``other`` is this base or lies below it (same origin, same leading segments)."""
        if (other.scheme, other.host, other.port) != (self.scheme, self.host, self.port):
            return False
        mine = self.segments
        return other.segments[: len(mine)] == mine


def remove_dot_segments(path: str) -> str:
    """RFC 3986 § 5.2.4, step by step as the RFC writes it (its § 5.4 examples are the tests)."""
    source, output = path, ""
    while source:
        if source.startswith(("../", "./")):  # 2A
            source = source[source.index("/") + 1 :]
        elif source.startswith("/./") or source == "/.":  # 2B
            source = "/" + source[3:]
        elif source.startswith("/../") or source == "/..":  # 2C
            source = "/" + source[4:]
            output = output[: max(output.rfind("/"), 0)]
        elif source in {".", ".."}:  # 2D
            source = ""
        else:  # 2E
            end = source.find("/", 1)
            end = len(source) if end < 0 else end
            source, output = source[end:], output + source[:end]
    return output


def _normalize_encoding(text: str, safe: str) -> str:
    """§ 6.2.2.1/6.2.2.2: unreserved characters decoded, other escapes upper-cased, the rest encoded."""

    def escape(match: re.Match[str]) -> str:
        digits = match.group(1)
        if digits is None or not set(digits) <= _HEX:
            raise UnsafeUrlError("URL has a malformed percent-encoding")
        char = chr(int(digits, 16))
        return char if char in _UNRESERVED else f"%{digits.upper()}"

    return quote(_PERCENT.sub(escape, text), safe=safe + "%")


def _authority(netloc: str) -> tuple[str, int | None]:
    """(host in normal form, port or None) of an authority that has no userinfo."""
    if netloc.startswith("["):  # an IP literal, RFC 3986 § 3.2.2
        host, _, rest = netloc.partition("]")
        host += "]"
        if rest and not rest.startswith(":"):
            raise UnsafeUrlError("URL has an invalid port")
        port_text = rest[1:]
    else:
        host, _, port_text = netloc.partition(":")
    if port_text and not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
        raise UnsafeUrlError("URL has an invalid port")
    host = host.removesuffix(".")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except UnicodeError as exc:  # idna.IDNAError and the codecs' errors
            raise UnsafeUrlError("URL host is not a valid internationalised domain name") from exc
    host = host.lower()
    if not _HOST.fullmatch(host):
        raise UnsafeUrlError("URL host is empty or has characters a host name cannot have")
    return host, int(port_text) if port_text else None


def normalize_url(url: str) -> NormalUrl:
    """``url`` in normal form; raises ``UnsafeUrlError`` for any URL the module docstring refuses."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in url) or "\\" in url:
        raise UnsafeUrlError("URL has spaces, control characters, lone surrogates or backslashes")
    if "#" in url:
        raise UnsafeUrlError("URL has a fragment")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unbalanced "[" in the host
        raise UnsafeUrlError("URL cannot be parsed") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not url[len(scheme) :].startswith("://"):
        raise UnsafeUrlError("only absolute http(s) URLs are allowed")
    if "@" in parts.netloc:
        raise UnsafeUrlError("URLs with userinfo are not allowed")
    host, port = _authority(parts.netloc)
    raw_path = _normalize_encoding(parts.path, _PATH_SAFE)
    if any(refused in raw_path for refused in _REFUSED_IN_PATH):
        raise UnsafeUrlError("URL path has an encoded slash, backslash or percent sign")
    path = remove_dot_segments(raw_path) or "/"
    if any(segment.split(";")[0] in {".", ".."} for segment in path.split("/")):
        raise UnsafeUrlError("URL path has a dot segment with parameters")
    query = _normalize_encoding(parts.query, _QUERY_SAFE) if "?" in url else None
    return NormalUrl(scheme, host, port or DEFAULT_PORTS[scheme], path, query)


def normalize_base(url: str) -> NormalUrl:
    """A FHIR base URL (an allowlist entry or a request's ``fhirServer``): no query either."""
    if "?" in url:
        raise UnsafeUrlError("a FHIR base URL must not carry a query")
    return normalize_url(url)


@dataclass(frozen=True, slots=True)
class Allowlist:
    """The parsed ``CDS_FHIR_SERVER_ALLOWLIST``, built once per app. Empty allows any http(s) URL."""

    bases: tuple[NormalUrl, ...]

    @classmethod
    def from_entries(cls, entries: list[str]) -> Allowlist:
        return cls(tuple(normalize_base(entry) for entry in entries))

    def allows(self, base: NormalUrl) -> bool:
        """Whether the service may call under ``base`` (already normalised)."""
        return not self.bases or any(allowed.contains(base) for allowed in self.bases)
