"""A thin FHIR R4 read client for the hook's fallback fetches (one ``httpx.AsyncClient`` per app).

Guards, in order: only URLs under the request's ``fhirServer`` are ever requested (paging ``next`` links
included); redirects are not followed; each call has a timeout no longer than what is left of the hook's
budget; responses are size-capped; page count is bounded. The access token is sent as a bearer token and
never logged. Failures raise ``FhirFetchError`` with a stable reason code.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from service.decode import MalformedJsonError, decode_resource
from service.outbound import is_within

FHIR_JSON = "application/fhir+json"


class FhirFetchError(Exception):
    """Data could not be fetched; ``reason`` is stable (logged and returned in the 412 body)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def query_url(base: str, relative: str, page_size: int) -> str:
    """Absolute URL of a rendered template; searches get ``_count`` (our page size) unless they set it."""
    url = f"{base.rstrip('/')}/{relative.lstrip('/')}"
    if "?" in relative and "_count" not in dict(parse_qsl(urlsplit(url).query)):
        url += f"&_count={page_size}"
    return url


_STATUS_REASONS = {401: "fhir-unauthorized", 403: "fhir-forbidden", 404: "fhir-not-found"}


class FhirClient:
    """Reads from one FHIR server for one hook call, within a deadline."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        access_token: str | None,
        *,
        deadline: float,
        per_call_timeout: float,
        page_size: int,
        max_pages: int,
        max_response_bytes: int,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"Accept": FHIR_JSON}
        if access_token:
            self._headers["Authorization"] = f"Bearer {access_token}"
        self._deadline = deadline
        self._per_call_timeout = per_call_timeout
        self._page_size = page_size
        self._max_pages = max_pages
        self._max_bytes = max_response_bytes

    async def fetch(self, relative: str) -> dict[str, Any]:
        """The resource or the whole search Bundle (pages merged) for one rendered template."""
        document = await self.get_json(query_url(self._base, relative, self._page_size))
        if document.get("resourceType") != "Bundle":
            return document
        entries = list(document.get("entry") or [])
        next_url = _next_link(document)
        pages = 1
        while next_url:
            if pages >= self._max_pages:
                raise FhirFetchError("fhir-too-many-pages", f"more than {self._max_pages} pages")
            page = await self.get_json(next_url)
            if page.get("resourceType") != "Bundle":
                raise FhirFetchError("fhir-bad-response", "a paging link did not return a Bundle")
            entries.extend(page.get("entry") or [])
            next_url = _next_link(page)
            pages += 1
        merged = {k: v for k, v in document.items() if k not in {"entry", "link"}}
        if entries:
            merged["entry"] = entries
        return merged

    async def get_json(self, url: str) -> dict[str, Any]:
        if not is_within(url, self._base):
            raise FhirFetchError("fhir-url-refused", "URL is outside the request's fhirServer")
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise FhirFetchError("budget-exhausted", "the hook's fetch budget is spent")
        timeout = min(self._per_call_timeout, remaining)
        try:
            async with self._http.stream("GET", url, headers=self._headers, timeout=timeout) as response:
                _check_status(response)
                body = await _read_capped(response, self._max_bytes)
        except httpx.TimeoutException as exc:
            raise FhirFetchError("fhir-timeout", f"no answer within {timeout:.2f} s") from exc
        except httpx.TransportError as exc:
            raise FhirFetchError("fhir-unreachable", type(exc).__name__) from exc
        try:
            document = decode_resource(body)
        except MalformedJsonError as exc:
            raise FhirFetchError("fhir-bad-response", "response is not JSON") from exc
        if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
            raise FhirFetchError("fhir-bad-response", "response is not a FHIR resource")
        return document


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise FhirFetchError("fhir-redirect-refused", f"HTTP {status}: redirects are not followed")
    reason = _STATUS_REASONS.get(status, "fhir-server-error" if status >= 500 else "fhir-request-rejected")
    raise FhirFetchError(reason, f"HTTP {status}")


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FhirFetchError("fhir-too-large", f"response over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise FhirFetchError("fhir-too-large", f"response over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or ():
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None
