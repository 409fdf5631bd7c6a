"""The FastAPI application factory: ``create_app(settings)`` builds everything; nothing happens on import.

Endpoints (CDS Hooks 2.0.1, https://cds-hooks.hl7.org/2.0/): ``GET /cds-services`` (discovery),
``POST /cds-services/{id}`` (the hook), both behind the CDS Hooks JWT check, plus ``GET /healthz`` and
``GET /readyz``. CORS lets browser clients such as the CDS Hooks sandbox call us; preflights need no
credentials. Every response carries security headers; no server banner is sent (see ``service.cli.main``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response

from cards.catalog import declared_services
from service.api import collector
from service.api.body import read_body
from service.api.call import HookDeps, call_hook
from service.api.exposure import docs_urls, install_metrics
from service.api.feedback import receive_feedback
from service.api.http_errors import install_error_handlers
from service.api.observability import RequestObserver
from service.api.openapi import HOOK_BODY, install_openapi
from service.api.preview import install_preview
from service.api.registry import Registry
from service.api.security import SecurityHeaders, authenticate
from service.auth.jwks import KeySets
from service.auth.replay import RedisReplayCache, ReplayCache
from service.auth.verifier import Verifier
from service.errors import ErrorCode, ServiceError
from service.fhir.outbound import Allowlist
from service.fhir.outbound_http import outbound_client
from service.fhir.resolve import FetchDeps
from service.metrics import Metrics
from service.settings import Environment, Settings
from service.store.engine import create_engine, create_read_engine
from service.store.history import CardHistory
from service.store.history_writer import HistoryWriter
from service.store.replay_table import DatabaseReplayCache
from service.store.repository import Store
from service.store.schema import ensure_schema
from terminology.knowledge import load_knowledge

JSON = "application/json"
# Outbound HTTP libraries log request URLs at INFO/DEBUG, and our FHIR URLs carry the patient id:
# keep them at WARNING so no identifier reaches the logs through them.
QUIET_LOGGERS = ("httpx", "httpcore")


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


def create_app(settings: Settings | None = None, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """A ready-to-serve app; loads and checks all knowledge and rule data before returning.

    ``clock`` is injectable for tests (suppression windows); the default is the UTC wall clock.
    """
    settings = settings or Settings()
    clock = clock or (lambda: datetime.now(UTC))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    knowledge = load_knowledge()
    registry = Registry(declared_services(knowledge))
    allowlist = Allowlist.from_entries(settings.fhir_server_allowlist)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One outbound client for the app's life: pooled connections, no redirects, no proxy from env.
        async with outbound_client() as http:
            engine = create_engine(settings.database_url)
            # The jti replay cache: Redis when configured, else the database (see service.auth.replay).
            replay: ReplayCache = (
                RedisReplayCache(settings.redis_url)
                if settings.redis_url
                else DatabaseReplayCache.beside(engine)
            )
            production = settings.environment is Environment.PRODUCTION
            keys = KeySets(http, settings.jwks_refresh_interval_s, settings.jwks_timeout_s, production)
            app.state.verifier = Verifier(
                settings.trusted_issuers, keys, replay, settings.jwt_leeway_s, settings.requires_auth, metrics
            )
            app.state.replay = replay
            app.state.public_base_url = str(settings.public_base_url) if settings.public_base_url else None
            reader = create_read_engine(settings.database_url, settings.suppression_read_timeout_s)
            try:
                await ensure_schema(engine, settings.migrates_on_start)
                store = Store(engine, settings.hash_key(), reader)
                writer = HistoryWriter(
                    store, metrics, settings.history_queue_size, settings.history_batch_size
                )
                history = CardHistory(
                    store,
                    writer,
                    metrics,
                    settings.suppression_window_days,
                    settings.suppression_read_deadline_s,
                )
                app.state.store = store
                app.state.history_writer = writer
                app.state.deps = HookDeps(
                    FetchDeps(settings, allowlist, http, metrics), knowledge, clock, history
                )
                collector.freeze_startup_objects()  # ~135k objects built above; see service.api.collector
                writer.start()
                try:
                    yield
                finally:
                    await writer.stop(settings.history_drain_timeout_s)  # after the last request
            finally:
                await replay.close()
                await reader.dispose()
                await engine.dispose()

    app = FastAPI(title="calcinosis-cds", version="0.1.0", lifespan=lifespan, **docs_urls(settings))
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestObserver, metrics=metrics)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allow_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        allow_private_network=settings.answers_private_network,  # Private Network Access (Chrome)
        max_age=600,
    )
    install_error_handlers(app)

    @app.get("/cds-services", dependencies=[Depends(authenticate)])
    async def discovery() -> Response:
        """CDS Hooks § Discovery."""
        return _json(registry.discovery)

    @app.post("/cds-services/{service_id}", dependencies=[Depends(authenticate)], openapi_extra=HOOK_BODY)
    async def hook(service_id: str, request: Request) -> Response:
        """CDS Hooks § Calling a CDS Service (patient-view)."""
        declaration = registry.get(service_id)
        if declaration is None:
            raise ServiceError.single(
                404, ErrorCode.UNKNOWN_SERVICE, f"no CDS service with id {service_id!r}"
            )
        raw = await read_body(request, settings.max_body_bytes)
        return _json(await call_hook(declaration, raw, request.app.state.deps))

    @app.post("/cds-services/{service_id}/feedback", dependencies=[Depends(authenticate)])
    async def feedback(service_id: str, request: Request) -> Response:
        """CDS Hooks § Feedback."""
        if registry.get(service_id) is None:
            raise ServiceError.single(
                404, ErrorCode.UNKNOWN_SERVICE, f"no CDS service with id {service_id!r}"
            )
        raw = await read_body(request, settings.max_feedback_bytes)
        state = request.app.state
        return _json(
            await receive_feedback(state.store, service_id, raw, clock(), state.history_writer.pending)
        )

    install_metrics(app, metrics, settings)

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz")
    async def readyz(request: Request) -> Response:
        """Ready once started and while the jti replay cache answers (calls are refused without it)."""
        if getattr(request.app.state, "deps", None) is None:
            return _json({"status": "starting"}, 503)
        if not await request.app.state.replay.ping():
            return _json({"status": "replay-cache-unavailable"}, 503)
        return _json({"status": "ready"})

    install_preview(app, settings)
    install_openapi(app, registry.hooks)
    return app
