"""The card preview page (development only): pick a demo patient, see its cards as an EHR side panel would.

``preview_routes(settings, slot, declaration)`` serves, outside production and outside the OpenAPI
document:

- ``GET /preview``: the page (``preview_page/index.html``), with its assets under ``/preview/assets/``;
- ``GET /preview/api/patients``: the demo patients (``service.demo``): id, title, description;
- ``POST /preview/api/cards/{patient_id}``: builds the ``patient-view`` request an EHR would send for that
  demo patient (its full prefetch, dates relative to now) and answers it as the hook does
  (``service.api.call.call_hook``), but outside the card history: its cards are not recorded (so neither the
  report nor any suppression ever counts them), not counted in the card metrics, and never held back. The
  card history is only asked (``CardHistory.held_back``, read-only) which of them the hook would hold back
  now, and why (issue 13: the page says so instead of "nothing to say")::

      {"cards": [...every card, as the hook renders them...],
       "heldBack": [{"card": "<uuid of a card above>", "rule": "<rule id>",
                     "overriddenCard": "<uuid of the card overridden>",
                     "overriddenOn": "<RFC 3339 UTC time of the override>",
                     "reason": {"system": "..." | null, "code": "..." | null, "display": "..." | null,
                                "comment": true | false},
                     "until": "<RFC 3339 UTC time the rule's window ends>"}],
       "suppression": "checked" | "unavailable"}

  ``reason`` is the override's coded reason (``display`` as the card offers it) and whether it had a comment
  (its text is never kept). Before ``until`` the card may come back sooner: a more severe card or other
  evidence (a newer result, a new diagnosis or medication) ends the suppression; a critical card is never
  held back. ``unavailable``: the read failed or passed its deadline (as on the hook's path), so whether an
  EHR would see the cards is unknown and ``heldBack`` is empty. The answer is for this very request: its
  demo data is dated relative to today and evidence is compared by resource and day, so an override of a
  card issued from data of other dates does not hold these cards back (other evidence).

The page's files are read once, here; nothing is fetched from elsewhere. Its responses carry their own
security headers with a Content-Security-Policy that lets the page load its own script and style and call
its own API, nothing else (``PREVIEW_CSP``); ``service.api.security`` must leave ``/preview`` to them.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the route signatures at run time, and
# their ``Annotated[Runtime, Depends(slot)]`` names a local of the router factory.
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from cards.catalog import AdvisedCard, ServiceDeclaration
from service.api.call import call_hook
from service.api.hooks import hook_call
from service.api.runtime import Runtime, RuntimeSlot
from service.demo import bundle, demo_patients, prefetch
from service.errors import ErrorCode, ServiceError
from service.settings import Environment, Settings
from service.store.history import CardHistory, HeldBack
from service.store.records import AdvisedCall

PAGE_DIR = Path(__file__).parent / "preview_page"
PREFIX = "/preview"
PREVIEW_USER = "Practitioner/preview"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Own script, style and API only: no inline code, no other origin, no framing, no forms, no <base>.
PREVIEW_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PREVIEW_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "content-security-policy": PREVIEW_CSP,
}


class OutsideHistory:
    """The preview's card selection (one per preview call): every card is shown and nothing is written or
    counted, so the card history, the report and the suppression of real traffic never see a preview. It
    only asks the card history which of the cards the hook would hold back (``held_back``: None when the
    read failed)."""

    def __init__(self, history: CardHistory) -> None:
        self._history = history
        self.held_back: list[HeldBack] | None = []

    async def select(self, call: AdvisedCall) -> tuple[list[AdvisedCard], Callable[[], None]]:
        self.held_back = await self._history.held_back(call.patient_id, call.cards, call.now)
        return list(call.cards), lambda: None


def _held_back(held: HeldBack) -> dict[str, Any]:
    """One ``heldBack`` entry (see the module docstring); the reason's display is the one the card offers
    for that code (the overridden card was of the same rule, so it offered the same reasons)."""
    override = held.override
    offered = held.card.card.overrideReasons or []
    display = next(
        (
            r.display
            for r in offered
            if r.code == override.reason_code and override.reason_system in (None, r.system)
        ),
        None,
    )
    return {
        "card": held.card.card.uuid,
        "rule": held.card.rule_id,
        "overriddenCard": override.card_uuid,
        "overriddenOn": override.overridden_at,
        "reason": {
            "system": override.reason_system,
            "code": override.reason_code,
            "display": display,
            "comment": override.has_comment,
        },
        "until": held.until,
    }


def _response(body: bytes, media_type: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=media_type, headers=PREVIEW_HEADERS)


def _not_found(message: str) -> ServiceError:
    return ServiceError.single(404, ErrorCode.NOT_FOUND, message).with_headers(dict(PREVIEW_HEADERS))


def _read_page() -> dict[str, tuple[bytes, str]]:
    """Every file of the page by name, with its media type (only the types above are served)."""
    return {
        path.name: (path.read_bytes(), MEDIA_TYPES[path.suffix])
        for path in sorted(PAGE_DIR.glob("*"))
        if path.is_file() and path.suffix in MEDIA_TYPES
    }


def preview_routes(settings: Settings, slot: RuntimeSlot, declaration: ServiceDeclaration) -> APIRouter:
    """The preview page and its API for ``declaration`` (the chart-open service); an empty router in
    production."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    if settings.environment is Environment.PRODUCTION:
        return router
    live = Annotated[Runtime, Depends(slot)]
    files = _read_page()
    if "index.html" not in files:
        raise RuntimeError(f"the preview page is missing from {PAGE_DIR} (package data not installed?)")
    index, _ = files.pop("index.html")

    @router.get("")
    async def page() -> Response:
        return _response(index, MEDIA_TYPES[".html"])

    @router.get("/assets/{name}")
    async def asset(name: str) -> Response:
        if name not in files:
            raise _not_found(f"no preview asset {name!r}")
        body, media_type = files[name]
        return _response(body, media_type)

    @router.get("/api/patients")
    async def patients() -> Response:
        listed = [{"id": p.id, "title": p.title, "description": p.description} for p in demo_patients()]
        return _response(orjson.dumps(listed), "application/json")

    @router.post("/api/cards/{patient_id}")
    async def cards(patient_id: str, runtime: live) -> Response:
        if patient_id not in {p.id for p in demo_patients()}:
            raise _not_found(f"no demo patient {patient_id!r}")
        outside = OutsideHistory(runtime.history)
        deps = dataclasses.replace(runtime.hook, history=outside)
        values = prefetch(bundle(patient_id, deps.clock()))
        raw = orjson.dumps(hook_call("patient-view", patient_id, user=PREVIEW_USER, prefetch=values))
        answer = await call_hook(declaration, raw, deps)
        answer["heldBack"] = [_held_back(held) for held in outside.held_back or ()]
        answer["suppression"] = "unavailable" if outside.held_back is None else "checked"
        return _response(orjson.dumps(answer), "application/json")

    return router
