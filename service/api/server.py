"""How ``calcinosis-cds serve`` runs uvicorn: connection limits from the settings, and request heads bounded
in time and size.

uvicorn closes idle kept-alive connections (``CDS_KEEP_ALIVE_TIMEOUT_S``) and answers 503 once its open
connections or running requests reach ``CDS_LIMIT_CONCURRENCY``, but it has no deadline for a request head,
and its C parser (httptools) no bound on the head's size: a client sending its headers a byte at a time
(slowloris) keeps a connection and a file descriptor forever, and one sending megabytes of header grows the
process. :class:`BoundedHeadProtocol` adds both bounds, as a reverse proxy does (nginx
``client_header_timeout``, ``large_client_header_buffers``): a head must be complete within
``CDS_HEADER_TIMEOUT_S`` of its first byte (of the connection, for the first request) - else 408 and close -
and within ``CDS_MAX_HEADER_BYTES`` - else 431 (RFC 6585 § 5) and close. Both answers carry an
OperationOutcome with a stable code. A production deployment still puts a reverse proxy in front (README,
"Production deployment"): these bounds keep one process alive, the proxy keeps the connections away.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.errors import ErrorCode, Problem, operation_outcome
from service.settings import Settings

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def _refusal(status: int, code: ErrorCode, message: str) -> bytes:
    body = orjson.dumps(operation_outcome([Problem(code, message)]))
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/fhir+json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n" % (status, REASONS[status], len(body))
    )
    return head + body


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size bound for each request head.

    A head is complete when the parser starts a new request-response cycle for it; the deadline is armed
    when a connection opens and when the first byte of a further request arrives on a kept-alive one.
    """

    header_timeout_s: ClassVar[float]
    max_header_bytes: ClassVar[int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        between_requests = cycle is None or cycle.response_complete
        if self._head_deadline is None and between_requests:
            self._arm()  # the first byte of another request on a kept-alive connection
        self._head_bytes += len(data) if self._head_deadline is not None else 0
        super().data_received(data)
        if self.cycle is not cycle:
            self._disarm()  # the head is complete: the app has the request now
        elif self._head_deadline is not None and self._head_bytes > self.max_header_bytes:
            self._refuse(431, ErrorCode.HEADER_TOO_LARGE, f"request head over {self.max_header_bytes} bytes")

    def _arm(self) -> None:
        self._head_bytes = 0
        self._head_deadline = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _expired(self) -> None:
        self._head_deadline = None
        self._refuse(408, ErrorCode.HEADER_TIMEOUT, f"request head not complete in {self.header_timeout_s} s")

    def _refuse(self, status: int, code: ErrorCode, message: str) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(_refusal(status, code, message))
            self.transport.close()


def bounded_head_protocol(settings: Settings) -> type[BoundedHeadProtocol]:
    """The protocol class with this configuration's bounds (uvicorn instantiates it per connection)."""
    return type(
        "BoundedHeadProtocol",
        (BoundedHeadProtocol,),
        {"header_timeout_s": settings.header_timeout_s, "max_header_bytes": settings.max_header_bytes},
    )


def server_config(app: Any, settings: Settings, host: str, port: int, log_level: str) -> uvicorn.Config:
    """The uvicorn configuration of ``serve``. ``server_header=False``: no "server: uvicorn" banner;
    ``log_config=None``: uvicorn logs through our JSON handler, and ``access_log=False``: the service writes
    its own access line (``service.api.observability``)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        server_header=False,
        log_config=None,
        access_log=False,
        http=bounded_head_protocol(settings),
        timeout_keep_alive=settings.keep_alive_timeout_s,
        limit_concurrency=settings.limit_concurrency,
    )
