"""What the service exposes besides the CDS Hooks API, and to whom: ``/metrics`` and the API docs.

- ``GET /metrics`` (Prometheus) tells anyone who reads it how busy the service is and what it refuses.
  With ``CDS_METRICS_TOKEN`` set it answers only ``Authorization: Bearer <token>`` (RFC 6750 § 2.1; compared
  in constant time), else 401. Without a token it is served in development and not at all in production
  (404): a production deployment that wants metrics sets a token and gives it to its Prometheus
  (``authorization: credentials_file``).
- ``/docs``, ``/redoc`` and ``/openapi.json`` are served in development; in production only with
  ``CDS_DOCS_ENABLED=true``.
"""

from __future__ import annotations

import hmac
import logging
from typing import TypedDict

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.errors import ErrorCode, ServiceError
from service.metrics import Metrics
from service.settings import Settings

log = logging.getLogger("calcinosis_cds.exposure")
UNAUTHORIZED = 401
BEARER = "bearer "


class DocsUrls(TypedDict):
    docs_url: str | None
    redoc_url: str | None
    openapi_url: str | None


def docs_urls(settings: Settings) -> DocsUrls:
    """FastAPI's ``docs_url``, ``redoc_url`` and ``openapi_url``: the defaults, or none at all."""
    served = settings.serves_docs
    return DocsUrls(
        docs_url="/docs" if served else None,
        redoc_url="/redoc" if served else None,
        openapi_url="/openapi.json" if served else None,
    )


def _bearer_matches(header: str | None, token: bytes) -> bool:
    if header is None or not header.lower().startswith(BEARER):
        return False
    return hmac.compare_digest(header[len(BEARER) :].strip().encode(), token)


def metrics_routes(metrics: Metrics, settings: Settings) -> APIRouter:
    """``GET /metrics`` as the settings allow (see the module docstring): an empty router when not served."""
    router = APIRouter(include_in_schema=False)
    token = settings.metrics_token.get_secret_value().encode() if settings.metrics_token else None
    if token is None and not settings.serves_open_metrics:
        log.warning("GET /metrics is not served: set CDS_METRICS_TOKEN to serve it in production")
        return router

    @router.get("/metrics")
    async def prometheus(request: Request) -> Response:
        """Prometheus metrics: counts and latencies only."""
        if token is not None and not _bearer_matches(request.headers.get("authorization"), token):
            raise ServiceError.single(
                UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "metrics need their bearer token"
            ).with_headers({"WWW-Authenticate": "Bearer"})
        return Response(metrics.render(), media_type=metrics.content_type)

    return router
