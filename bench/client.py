"""Timed HTTP calls the way an EHR makes them: one keep-alive connection, one call after another.

Uses the standard library's ``http.client`` - the thinnest real HTTP client in Python - so the client's own
cost stays small next to the server's and the ratios compare servers, not clients. Bodies are encoded once,
before timing; each call gets its own ``hookInstance`` (untimed), as in real traffic, so that no figure can
come from an answer kept for an identical body.
"""

from __future__ import annotations

import http.client
import re
import statistics
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

OK = 200
HOOK_INSTANCE = re.compile(rb'"hookInstance":\s*"([^"]*)"')


class CallFailedError(RuntimeError):
    """A benchmark call did not answer 200: the numbers would be meaningless, so the run stops."""


class KeepAliveClient:
    """Calls one URL over a single persistent connection: POST with a body, or GET without."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout_s: float = 60.0) -> None:
        parts = urlsplit(url)
        self.target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)

    def call(self, body: bytes | None) -> bytes:
        """The response body; ``None`` sends a GET instead."""
        method = "GET" if body is None else "POST"
        self._conn.request(method, self.target, body, self.headers)
        response = self._conn.getresponse()
        payload = response.read()
        if response.status != OK:
            raise CallFailedError(
                f"{method} {self.target[:80]} answered {response.status}: {payload[:300]!r}"
            )
        return payload

    def timed_call(self, body: bytes | None) -> float:
        """Milliseconds from sending the request to the last byte of the response."""
        started = time.perf_counter()
        self.call(body)
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self._conn.close()


def fresh_instance(body: bytes | None) -> bytes | None:
    """``body`` with a new ``hookInstance`` (CDS Hooks 2.0 § HTTP Request: a UUID per hook invocation); a body
    without one, or no body, unchanged."""
    found = HOOK_INSTANCE.search(body) if body is not None else None
    if body is None or found is None:
        return body
    return body[: found.start(1)] + str(uuid.uuid4()).encode() + body[found.end(1) :]


@dataclass(frozen=True)
class Latency:
    """Client-side latency of ``n`` calls, in milliseconds."""

    n: int
    p50: float
    p95: float

    @classmethod
    def of(cls, samples: list[float]) -> Latency:
        return cls(len(samples), statistics.median(samples), statistics.quantiles(samples, n=20)[18])


def interleaved(
    clients: list[KeepAliveClient], bodies: list[bytes | None], calls: int, warmup: int
) -> list[Latency]:
    """Latency of each client on its body (``None``: GET), calls alternating between them.

    Alternating call by call (not one block after the other) exposes every server to the same moments of
    machine noise, so their ratio holds even when the absolute numbers drift.
    """
    for _ in range(warmup):
        for client, body in zip(clients, bodies, strict=True):
            client.call(fresh_instance(body))
    samples: list[list[float]] = [[] for _ in clients]
    for _ in range(calls):
        for client, body, series in zip(clients, bodies, samples, strict=True):
            series.append(client.timed_call(fresh_instance(body)))
    return [Latency.of(series) for series in samples]
