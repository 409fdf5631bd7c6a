"""A thin FHIR R4 read client for the hook's fallback fetches (one ``httpx.AsyncClient`` per app).

Guards, in order: every URL is normalised (``service.fhir.outbound``) and only URLs under the request's
``fhirServer`` are requested, in their normalised form (paging ``next`` links included); redirects are not
followed; each request's timeout is no longer than what is left of the hook's budget, and no answer is
decoded once the budget is spent; a response's size is counted while it is read, after gzip inflation,
and reading stops at the cap; entries are capped per page (the ``_count`` asked for: R4 § 3.1.1.5.4
"Servers SHALL NOT return more resources in a single page than requested") and per key; page count is
bounded. The access token is sent as a bearer token and never logged. Failures raise ``FhirFetchError``
with a stable reason code.
"""

from __future__ import annotations

import mmap
import time
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from service.api.decode import MalformedJsonError, decode_resource
from service.fhir.outbound import NormalUrl, UnsafeUrlError, normalize_url
from service.settings import Settings

FHIR_JSON = "application/fhir+json"
GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib's "gzip container only" mode, RFC 1952
INFLATE_STEP = 256 * 1024


class FhirFetchError(Exception):
    """Data could not be fetched; ``reason`` is stable (logged and returned in the 412 body)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """What one hook call may ask of its FHIR server (the ``CDS_FHIR_*`` settings)."""

    per_call_timeout: float
    page_size: int
    max_pages: int
    max_response_bytes: int
    max_entries_per_key: int

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        return cls(
            settings.fhir_timeout_s,
            settings.fhir_page_size,
            settings.fhir_max_pages,
            settings.fhir_max_response_bytes,
            settings.fhir_max_entries_per_key,
        )


def query_url(base: str, relative: str, page_size: int) -> str:
    """Absolute URL of a rendered template; searches get ``_count`` (our page size) unless they set it."""
    url = f"{base.rstrip('/')}/{relative.lstrip('/')}"
    if "?" in relative and "_count" not in dict(parse_qsl(urlsplit(url).query)):
        url += f"&_count={page_size}"
    return url


_STATUS_REASONS = {401: "fhir-unauthorized", 403: "fhir-forbidden", 404: "fhir-not-found"}


class FhirClient:
    """Reads from one FHIR server for one hook call, within a deadline (``time.monotonic()``)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base: NormalUrl,
        access_token: str | None,
        *,
        deadline: float,
        limits: FetchLimits,
    ) -> None:
        self._http = http
        self._base = base
        # gzip only: it is inflated here, bounded by the size cap (httpx would inflate a chunk whole).
        self._headers = {"Accept": FHIR_JSON, "Accept-Encoding": "gzip"}
        if access_token:
            self._headers["Authorization"] = f"Bearer {access_token}"
        self._deadline = deadline
        self._limits = limits

    async def fetch(self, relative: str) -> dict[str, Any]:
        """The resource or the whole search Bundle (pages merged) for one rendered template."""
        document = await self.get_json(query_url(str(self._base), relative, self._limits.page_size))
        if document.get("resourceType") != "Bundle":
            return document
        return await self._all_pages(document, self._limits.page_size)

    async def complete(self, first_page: dict[str, Any]) -> dict[str, Any]:
        """A searchset the EHR sent one page of (as the CDS Hooks sandbox does), its ``next`` links followed
        under the same guards; pages may be as large as the EHR's first one (it chose their size)."""
        page_size = max(self._limits.page_size, len(first_page.get("entry") or []))
        return await self._all_pages(first_page, page_size)

    async def _all_pages(self, document: dict[str, Any], page_size: int) -> dict[str, Any]:
        entries: list[Any] = []
        self._add_entries(entries, document, page_size)
        next_url = next_link(document)
        pages = 1
        while next_url:
            if pages >= self._limits.max_pages:
                raise FhirFetchError("fhir-too-many-pages", f"more than {self._limits.max_pages} pages")
            page = await self.get_json(next_url)
            if page.get("resourceType") != "Bundle":
                raise FhirFetchError("fhir-bad-response", "a paging link did not return a Bundle")
            self._add_entries(entries, page, page_size)
            next_url = next_link(page)
            pages += 1
        merged = {k: v for k, v in document.items() if k not in {"entry", "link"}}
        if entries:
            merged["entry"] = entries
        return merged

    def _add_entries(self, entries: list[Any], page: dict[str, Any], page_size: int) -> None:
        found = page.get("entry") or []
        if not isinstance(found, list):
            raise FhirFetchError("fhir-bad-response", "Bundle.entry is not a list")
        limits = self._limits
        if len(found) > page_size:
            raise FhirFetchError(
                "fhir-too-many-entries", f"a page holds more than the {page_size} entries asked for"
            )
        if len(entries) + len(found) > limits.max_entries_per_key:
            raise FhirFetchError(
                "fhir-too-many-entries", f"more than {limits.max_entries_per_key} entries for one key"
            )
        entries.extend(found)

    async def get_json(self, url: str) -> dict[str, Any]:
        """The JSON object at ``url``, requested in its normalised form if it lies under the base."""
        try:
            target = normalize_url(url)
        except UnsafeUrlError as exc:
            raise FhirFetchError("fhir-url-refused", str(exc)) from exc
        if not self._base.contains(target):
            raise FhirFetchError("fhir-url-refused", "URL is outside the request's fhirServer")
        timeout = min(self._limits.per_call_timeout, self._remaining())
        stream = self._http.stream("GET", str(target), headers=self._headers, timeout=timeout)
        with _Body(self._limits.max_response_bytes) as body:
            try:
                async with stream as response:
                    _check_status(response)
                    await body.read(response)
            except httpx.TimeoutException as exc:
                raise FhirFetchError("fhir-timeout", f"no answer within {timeout:.2f} s") from exc
            except httpx.TransportError as exc:
                raise FhirFetchError("fhir-unreachable", type(exc).__name__) from exc
            self._remaining()  # decoding blocks the event loop: never start one past the deadline
            try:
                document = body.decode()
            except MalformedJsonError as exc:
                raise FhirFetchError("fhir-bad-response", "response is not JSON") from exc
        if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
            raise FhirFetchError("fhir-bad-response", "response is not a FHIR resource")
        return document

    def _remaining(self) -> float:
        """Seconds left of the hook's budget; raises ``budget-exhausted`` when none are."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise FhirFetchError("budget-exhausted", "the hook's fetch budget is spent")
        return remaining


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise FhirFetchError("fhir-redirect-refused", f"HTTP {status}: redirects are not followed")
    reason = _STATUS_REASONS.get(status, "fhir-server-error" if status >= 500 else "fhir-request-rejected")
    raise FhirFetchError(reason, f"HTTP {status}")


class _Body:
    """A response body, read into its own anonymous memory map of ``limit`` bytes.

    The map reserves address space only: pages are backed as bytes arrive, and closing the map hands them
    all back to the kernel (``munmap``), where bodies kept as Python ``bytes`` chunks left the allocator
    holding memory it did not return. Reading stops as soon as the body passes ``limit``, counted after
    gzip inflation, which goes ``INFLATE_STEP`` bytes at a time (``max_length``): a small compressed answer
    never expands in one piece (RFC 9110 § 8.4.1.3).
    """

    def __init__(self, limit: int) -> None:
        self._map = mmap.mmap(-1, limit, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self._size = 0

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *_: object) -> None:
        self._map.close()

    def _append(self, data: bytes) -> None:
        end = self._size + len(data)
        if end > len(self._map):
            raise FhirFetchError("fhir-too-large", f"response over {len(self._map)} bytes")
        self._map[self._size : end] = data
        self._size = end

    async def read(self, response: httpx.Response) -> None:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > len(self._map):
            raise FhirFetchError("fhir-too-large", f"response over {len(self._map)} bytes")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in {"identity", "gzip"}:
            raise FhirFetchError("fhir-bad-response", "response has a content-encoding other than gzip")
        if encoding == "identity":
            async for chunk in response.aiter_raw():
                self._append(chunk)
            return
        inflater = zlib.decompressobj(GZIP_WBITS)
        try:
            async for chunk in response.aiter_raw():
                pending, data = chunk, b""
                while pending or len(data) == INFLATE_STEP:  # a full step may leave output inside zlib
                    data = inflater.decompress(pending, INFLATE_STEP)
                    self._append(data)
                    pending = inflater.unconsumed_tail
        except zlib.error as exc:
            raise FhirFetchError("fhir-bad-response", "response is not valid gzip") from exc
        if not inflater.eof:
            raise FhirFetchError("fhir-bad-response", "gzip response is truncated")

    def decode(self) -> Any:
        """The body as JSON (``service.api.decode.decode_resource``); raises ``MalformedJsonError``."""
        with memoryview(self._map)[: self._size] as view:
            return decode_resource(view)


def next_link(bundle: dict[str, Any]) -> str | None:
    """The Bundle's ``next`` paging link (R4 Bundle.link relation ``next``), if any."""
    for link in bundle.get("link") or ():
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None
