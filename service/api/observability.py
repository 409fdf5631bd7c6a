"""Request ids, structured JSON logs, and per-request metrics.

Every request gets an id (``X-Request-ID``: the caller's if it is a plain token, else a new uuid), carried
in a context variable into every log line. Logs are JSON objects with time, level, logger, message and
request id; the service logs ids, counts and reason codes only - never a patient detail or a token, and
the access log never a query string.
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


class DropQueryString(logging.Filter):
    """Access-log lines keep the path and drop the query string: a client may put a token there (a JWT as
    ``?access_token=``, RFC 6750 § 2.3) and logs must never hold one.

    uvicorn logs each request as ``'%s - "%s %s HTTP/%s" %d'`` with (client, method, path and query,
    version, status); every string argument that is a path loses what follows its ``?``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.split("?", 1)[0] if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


ACCESS_LOGGER = "uvicorn.access"


def configure_json_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger(ACCESS_LOGGER).addFilter(DropQueryString())


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if SAFE_REQUEST_ID.match(candidate):
                return candidate
    return str(uuid.uuid4())


class RequestObserver:
    """ASGI middleware: request id in and out, request count and latency by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                endpoint = str(getattr(scope.get("route"), "path", "unmatched"))
                self.metrics.requests.labels(endpoint, scope.get("method", ""), str(status)).inc()
                self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)

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
            REQUEST_ID.reset(token)
