"""Request ids, structured JSON logs, one access line per request, and per-request metrics.

Every request gets an id (``X-Request-ID``: the caller's if it is a plain token, else a new uuid), carried
in a context variable into every log line. Logs are JSON objects with time, level, logger, message and
request id; the service logs ids, counts and reason codes only - never a patient detail or a token.

Each request is logged once, when its response is out (logger ``calcinosis_cds.access``: method, path,
status, milliseconds), with what the handler noted about it (:func:`note`: a hook call's instance, cards,
suppressions, prefetch states). This replaces uvicorn's access line and the hook's own lines: a
card-issuing call wrote three lines, 3 % of its Python time (``bench/profile.py``, README "Performance").
The path is the ASGI path, which never holds the query string (a client may put a token there, as
``?access_token=``, RFC 6750 § 2.3).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import Metrics

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
FACTS: ContextVar[dict[str, object] | None] = ContextVar("request_facts", default=None)
ACCESS = logging.getLogger("calcinosis_cds.access")
SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "requestId": REQUEST_ID.get(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def note(**facts: object) -> None:
    """Add ``facts`` (ids, counts, reason codes) to the current request's access line."""
    noted = FACTS.get()
    if noted is not None:
        noted.update(facts)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if SAFE_REQUEST_ID.match(candidate):
                return candidate
    return str(uuid.uuid4())


class RequestObserver:
    """ASGI middleware: request id in and out, request count and latency by route template, the access
    line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        facts: dict[str, object] = {}
        facts_token = FACTS.set(facts)
        started = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                endpoint = str(getattr(scope.get("route"), "path", "unmatched"))
                method, seconds = scope.get("method", ""), time.perf_counter() - started
                self.metrics.requests.labels(endpoint, method, str(status)).inc()
                self.metrics.latency.labels(endpoint).observe(seconds)
                ACCESS.info(
                    "request method=%s path=%s status=%d ms=%.1f%s",
                    method,
                    scope.get("path", ""),
                    status,
                    seconds * 1000,
                    "".join(f" {name}={value}" for name, value in facts.items()),
                )

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                record()  # the response is out: background work after it is not the caller's latency

        try:
            await self.app(scope, receive, observe)
        finally:
            record()
            FACTS.reset(facts_token)
            REQUEST_ID.reset(token)
