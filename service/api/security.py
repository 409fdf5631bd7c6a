"""Request authentication as a FastAPI dependency, and the security headers every response carries."""

# No ``from __future__ import annotations`` here: FastAPI reads the route signatures at run time, and
# their ``Annotated[Runtime, Depends(slot)]`` names a local of the router factory.
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.runtime import Runtime, RuntimeSlot
from service.auth.replay import ReplayCacheUnavailableError
from service.auth.trust import AuthError
from service.errors import ErrorCode, ServiceError

UNAUTHORIZED = 401
SERVICE_UNAVAILABLE = 503
# Docs pages (/docs, /redoc) load scripts and styles; every other response is JSON and may forbid all.
API_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")


def audience_of(request: Request, public_base_url: str | None) -> str:
    """The exact endpoint URL called: CDS_PUBLIC_BASE_URL + path, else the request URL (development)."""
    if public_base_url:
        return public_base_url.rstrip("/") + request.url.path
    return str(request.url.replace(query="", fragment=""))


def authenticator(slot: RuntimeSlot) -> Callable[..., Awaitable[None]]:
    """The route dependency that verifies the CDS Hooks JWT (or allows no token when none is required).

    Fails closed: without the replay cache a token cannot be checked for reuse, so the call gets a 503.
    """

    async def authenticate(request: Request, runtime: Annotated[Runtime, Depends(slot)]) -> None:
        try:
            await runtime.verifier.check(
                request.headers.get("authorization"), audience_of(request, runtime.public_base_url)
            )
        except AuthError as err:
            raise ServiceError.single(
                UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "authorization failed"
            ).with_headers({"WWW-Authenticate": "Bearer"}) from err
        except ReplayCacheUnavailableError as err:
            raise ServiceError.single(
                SERVICE_UNAVAILABLE,
                ErrorCode.REPLAY_CACHE_UNAVAILABLE,
                "token replay cache unreachable; retry",
            ) from err

    return authenticate


class SecurityHeaders:
    """ASGI middleware adding the security headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(DOCS_PATHS):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A route that sets its own (e.g. the preview page's CSP) keeps it; every other gets ours.
                headers = message.get("headers", [])
                present = {bytes(name).lower() for name, _ in headers}
                message["headers"] = [*headers, *(h for h in API_HEADERS if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
