"""The CDS Hooks routes (CDS Hooks 2.0.1, https://cds-hooks.hl7.org/2.0/) and the health checks, on
``APIRouter``s whose handlers get what they need as typed dependencies (:mod:`service.api.runtime`).

``GET /cds-services`` (§ Discovery), ``POST /cds-services/{id}`` (§ Calling a CDS Service, any hook of the
table in :mod:`service.api.hooks`) and ``POST /cds-services/{id}/feedback`` (§ Feedback) sit behind the
CDS Hooks JWT check; ``GET /healthz`` and ``GET /readyz`` do not.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the route signatures at run time, and
# their ``Annotated[Runtime, Depends(slot)]`` names a local of the router factory.
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cards.catalog import ServiceDeclaration
from service.api.body import read_body
from service.api.call import call_hook
from service.api.feedback import receive_feedback
from service.api.openapi import HOOK_BODY
from service.api.registry import Registry
from service.api.runtime import Runtime, RuntimeSlot
from service.api.security import authenticator
from service.errors import ErrorCode, ServiceError
from service.settings import Settings

JSON = "application/json"
NOT_FOUND = 404


def json_response(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


def _declared(registry: Registry, service_id: str) -> ServiceDeclaration:
    declaration = registry.get(service_id)
    if declaration is None:
        raise ServiceError.single(
            NOT_FOUND, ErrorCode.UNKNOWN_SERVICE, f"no CDS service with id {service_id!r}"
        )
    return declaration


def cds_routes(registry: Registry, settings: Settings, slot: RuntimeSlot) -> APIRouter:
    """Discovery, the hook and feedback, each behind the JWT check."""
    live = Annotated[Runtime, Depends(slot)]
    router = APIRouter(dependencies=[Depends(authenticator(slot))])

    @router.get("/cds-services")
    async def discovery() -> Response:
        """CDS Hooks § Discovery: every declared service (generated from the services data)."""
        return json_response(registry.discovery)

    @router.post("/cds-services/{service_id}", openapi_extra=HOOK_BODY)
    async def hook(service_id: str, request: Request, runtime: live) -> Response:
        """CDS Hooks § Calling a CDS Service: the service's hook, its context checked by the hook table."""
        declaration = _declared(registry, service_id)
        raw = await read_body(request, settings.max_body_bytes)
        return json_response(await call_hook(declaration, raw, runtime.hook))

    @router.post("/cds-services/{service_id}/feedback")
    async def feedback(service_id: str, request: Request, runtime: live) -> Response:
        """CDS Hooks § Feedback."""
        _declared(registry, service_id)
        raw = await read_body(request, settings.max_feedback_bytes)
        stored = await receive_feedback(
            runtime.store,
            service_id,
            raw,
            runtime.hook.clock(),
            runtime.history_writer.pending,
            runtime.overrides,
        )
        return json_response(stored)

    return router


def health_routes(slot: RuntimeSlot) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @router.get("/readyz")
    async def readyz() -> Response:
        """Ready once started and while the jti replay cache answers (calls are refused without it)."""
        if not slot.ready:
            return json_response({"status": "starting"}, 503)
        if not await slot.runtime.replay.ping():
            return json_response({"status": "replay-cache-unavailable"}, 503)
        return json_response({"status": "ready"})

    return router
