"""``calcinosis-cds check``: play the EHR for one patient and show the cards.

Builds the request of the chosen hook (``patient-view``, or an order hook with the draft orders given as
files; ``service.api.hooks.hook_call``), runs the service's own prefetch templates against the FHIR server
(as an EHR would; ``--no-prefetch`` leaves that to the service's FHIR fallback), calls the service (a
running one at ``--service-url``, else this code in-process on a throw-away database) and prints the
cards: indicator, summary, the detail with its evidence table, suggestions and links - or the raw JSON.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from service.api.hooks import HOOKS, hook_call
from service.auth.client_token import TokenSigner
from service.cli.sandbox import SandboxError, outcome_text
from service.fhir.client import FetchLimits, FhirClient, FhirFetchError
from service.fhir.outbound import UnsafeUrlError, normalize_base
from service.fhir.prefetch import render_template, token_values
from service.settings import Settings

COLORS = {"info": "\033[34m", "warning": "\033[33m", "critical": "\033[31m"}
BOLD, RESET = "\033[1m", "\033[0m"
FETCH_TIMEOUT_S = 30.0
MAX_PAGES = 50
MAX_BYTES = 64 * 1024 * 1024
PAGE_SIZE = 1000
LIMITS = FetchLimits(FETCH_TIMEOUT_S, PAGE_SIZE, MAX_PAGES, MAX_BYTES, PAGE_SIZE * MAX_PAGES)
USER = "Practitioner/calcinosis-cds-check"


@asynccontextmanager
async def _service(service_url: str | None) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client for a running service, or for this code in-process (with its start-up and shut-down)."""
    if service_url:
        async with httpx.AsyncClient(timeout=60) as client:
            yield client, service_url.rstrip("/")
        return
    from service.api.app import create_app  # only the in-process mode needs the whole app

    with tempfile.TemporaryDirectory(prefix="cds-check-") as folder:
        app = create_app(Settings(database_url=f"sqlite:///{folder}/check.db"))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, timeout=60) as client:
                yield client, "http://in-process"


async def _prefetch(
    templates: dict[str, str], context: dict[str, str], fhir: str, token: str | None
) -> dict[str, Any]:
    try:
        base = normalize_base(fhir)
    except UnsafeUrlError as exc:
        raise SandboxError(f"the FHIR server URL cannot be used: {exc}") from exc
    async with httpx.AsyncClient(follow_redirects=False) as http:
        client = FhirClient(http, base, token, deadline=time.monotonic() + 120, limits=LIMITS)
        values: dict[str, Any] = {}
        for key, template in templates.items():
            try:
                values[key] = await client.fetch(render_template(template, token_values(context)))
            except FhirFetchError as exc:
                raise SandboxError(f"prefetch {key!r} from {fhir} failed: {exc.reason} ({exc})") from exc
        return values


def _refused(what: str, response: httpx.Response, signer: TokenSigner | None) -> SandboxError:
    hint = ""
    if response.status_code == httpx.codes.UNAUTHORIZED:
        hint = (
            " (is --issuer trusted by the service, and --service-url its CDS_PUBLIC_BASE_URL?)"
            if signer
            else " (the service requires a JWT: --sign-key and --issuer; see calcinosis-cds dev-keys)"
        )
    return SandboxError(f"{what} answered HTTP {response.status_code}: {outcome_text(response)}{hint}")


def read_drafts(paths: list[Path], hook: str, patient_id: str) -> list[dict[str, Any]]:
    """The draft orders of an order hook, one FHIR resource per file (a draft without ``subject`` is given
    the patient's); ``SandboxError`` when the hook and the drafts do not go together."""
    takes_drafts = "draftOrders" in HOOKS[hook].context.model_fields
    if takes_drafts and not paths:
        raise SandboxError(f"--hook {hook} judges draft orders: give at least one --draft FILE.json")
    if paths and not takes_drafts:
        raise SandboxError(f"--hook {hook} takes no draft orders (--draft is for order-select, order-sign)")
    drafts = []
    for path in paths:
        try:
            resource = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SandboxError(f"--draft {path}: not a readable JSON file ({exc})") from exc
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise SandboxError(f"--draft {path}: not a FHIR resource (no resourceType)")
        resource.setdefault("subject", {"reference": f"Patient/{patient_id}"})
        drafts.append(resource)
    return drafts


async def check(
    fhir: str,
    patient_id: str,
    service_url: str | None,
    token: str | None,
    prefetch: bool,
    signer: TokenSigner | None = None,
    hook: str = "patient-view",
    drafts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The response of the service on ``hook`` for ``patient_id`` (raises ``SandboxError`` with a clear
    message). With ``signer``, each call carries a fresh CDS Hooks JWT for the URL it calls.
    """

    def auth(url: str) -> dict[str, str]:
        return signer.headers(url) if signer else {}

    async with _service(service_url) as (client, base):
        discovery_url = f"{base}/cds-services"
        discovery = await client.get(discovery_url, headers=auth(discovery_url))
        if discovery.status_code != httpx.codes.OK:
            raise _refused(f"discovery at {base}", discovery, signer)
        service = next((s for s in discovery.json()["services"] if s["hook"] == hook), None)
        if service is None:
            raise SandboxError(f"the service at {base} offers no service on the {hook} hook")
        body = hook_call(hook, patient_id, user=USER, drafts=drafts or [], fhir_server=fhir, token=token)
        if prefetch:
            body["prefetch"] = await _prefetch(service.get("prefetch", {}), body["context"], fhir, token)
        hook_url = f"{base}/cds-services/{service['id']}"
        response = await client.post(hook_url, json=body, headers=auth(hook_url))
        if response.status_code != httpx.codes.OK:
            raise _refused("the service", response, signer)
        answer: dict[str, Any] = response.json()
        return answer


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{RESET}" if color else text


def render(response: dict[str, Any], color: bool) -> str:
    """The cards as a terminal reads them."""
    cards = response.get("cards", [])
    if not cards:
        return "No cards: nothing to say for this patient."
    blocks = []
    for i, card in enumerate(cards, start=1):
        indicator = str(card.get("indicator", "info"))
        lines = [
            f"{i}. "
            + _paint(f"[{indicator.upper()}]", COLORS.get(indicator, ""), color)
            + " "
            + _paint(card["summary"], BOLD, color),
            "",
            re.sub(r"\*\*(.+?)\*\*", lambda m: _paint(m.group(1), BOLD, color), str(card.get("detail", ""))),
        ]
        suggestions = card.get("suggestions", [])
        if suggestions:
            lines += [
                "",
                _paint("Suggestions:", BOLD, color),
                *(f"  - {s['label']}" for s in suggestions),
            ]
        links = card.get("links", [])
        if links:
            lines += [
                "",
                _paint("Links:", BOLD, color),
                *(f"  - {link['label']}: {link['url']}" for link in links),
            ]
        lines += ["", f"Source: {card['source']['label']}"]
        blocks.append("\n".join(lines))
    return ("\n\n" + "-" * 72 + "\n\n").join(blocks)
