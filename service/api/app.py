"""The FastAPI application factory: ``create_app(settings)`` builds everything; nothing happens on import.

The routes live on routers (``service.api.routes``: discovery, the hooks, feedback, health;
``service.api.exposure``: metrics; ``service.api.preview``: the preview page); what they need at run time is
built here by the lifespan and handed to them as one typed dependency (``service.api.runtime``). CORS lets
browser clients such as the CDS Hooks sandbox call us; preflights need no credentials. Every response
carries security headers; no server banner is sent (see ``service.cli.main``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from cards.catalog import declared_services
from service.api import collector
from service.api.call import HookDeps
from service.api.exposure import docs_urls, metrics_routes
from service.api.http_errors import install_error_handlers
from service.api.observability import RequestObserver
from service.api.openapi import install_openapi
from service.api.preview import preview_routes
from service.api.registry import Registry
from service.api.routes import cds_routes, health_routes
from service.api.runtime import Runtime, RuntimeSlot
from service.api.security import SecurityHeaders
from service.auth.jwks import KeySets
from service.auth.replay import RedisReplayCache, ReplayCache
from service.auth.verifier import Verifier
from service.fhir.outbound import Allowlist
from service.fhir.outbound_http import outbound_client
from service.fhir.resolve import FetchDeps
from service.metrics import Metrics
from service.settings import Environment, Settings
from service.store.engine import create_engine, create_read_engine
from service.store.history import CardHistory
from service.store.history_writer import HistoryWriter
from service.store.override_index import OverrideIndex
from service.store.replay_table import DatabaseReplayCache
from service.store.repository import Store
from service.store.schema import ensure_schema
from terminology.knowledge import load_knowledge

# Outbound HTTP libraries log request URLs at INFO/DEBUG, and our FHIR URLs carry the patient id:
# keep them at WARNING so no identifier reaches the logs through them.
QUIET_LOGGERS = ("httpx", "httpcore")


class StartupDataError(RuntimeError):
    """The shipped knowledge or rule data does not hold together (a typo'd concept, threshold, pathway or
    hook): the service must not start. The message is one line naming the file and key."""


async def card_history(
    store: Store, metrics: Metrics, settings: Settings, clock: Callable[[], datetime]
) -> tuple[HistoryWriter, OverrideIndex, CardHistory]:
    """The card-history parts of the runtime, wired from the settings: the writer (not yet started), the
    override index (loaded: before the first call, see ``service.store.override_index``) and the
    suppression around the rules. The app's lifespan and the golden tests' in-process calls both use it."""
    writer = HistoryWriter(store, metrics, settings.history_queue_size, settings.history_batch_size)
    overrides = OverrideIndex(
        store, metrics, settings.longest_suppression_days, settings.suppression_refresh_s, clock
    )
    await overrides.reload()
    history = CardHistory(
        store,
        writer,
        overrides,
        metrics,
        settings.suppression_window_days,
        settings.suppression_read_deadline_s,
    )
    return writer, overrides, history


def create_app(settings: Settings | None = None, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """A ready-to-serve app; loads and checks all knowledge and rule data before returning (raises
    :class:`StartupDataError` when they do not hold together).

    ``clock`` is injectable for tests (suppression windows); the default is the UTC wall clock.
    """
    settings = settings or Settings()
    clock = clock or (lambda: datetime.now(UTC))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        knowledge = load_knowledge()
        registry = Registry(declared_services(knowledge))
    except ValueError as exc:  # every name in the data is checked here, each failure one line
        raise StartupDataError(str(exc)) from exc
    allowlist = Allowlist.from_entries(settings.fhir_server_allowlist)
    metrics = Metrics()
    slot = RuntimeSlot()

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
            verifier = Verifier(
                settings.trusted_issuers, keys, replay, settings.jwt_leeway_s, settings.requires_auth, metrics
            )
            reader = create_read_engine(settings.database_url, settings.suppression_read_timeout_s)
            try:
                await ensure_schema(engine, settings.migrates_on_start)
                store = Store(engine, settings.hash_key(), reader)
                writer, overrides, history = await card_history(store, metrics, settings, clock)
                runtime = Runtime(
                    verifier=verifier,
                    public_base_url=str(settings.public_base_url) if settings.public_base_url else None,
                    replay=replay,
                    store=store,
                    history_writer=writer,
                    overrides=overrides,
                    hook=HookDeps(FetchDeps(settings, allowlist, http, metrics), knowledge, clock, history),
                    history=history,
                )
                collector.freeze_startup_objects()  # ~135k objects built above; see service.api.collector
                writer.start()
                overrides.start()
                try:
                    with slot.holding(runtime):
                        yield
                finally:
                    await overrides.stop()
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
    app.include_router(cds_routes(registry, settings, slot))
    app.include_router(metrics_routes(metrics, settings))
    app.include_router(health_routes(slot))
    app.include_router(preview_routes(settings, slot, registry.first_on("patient-view")))
    install_openapi(app, registry.hooks)
    return app
