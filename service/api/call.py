"""One hook call, end to end: parse, check, resolve prefetch, build the snapshot, advise, check the cards.

Data flows one way: request -> ``service`` (this module) -> ``terminology`` (snapshot) -> ``cards``
(findings, cards) -> response. Every client mistake becomes a ``ServiceError`` with a stable code.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from cards.catalog import AdvisedCard, RuleFailed, ServiceDeclaration
from cards.given import Given
from service.api.decode import MalformedJsonError, decode_json, decode_request
from service.api.hooks import HOOKS, HookContext
from service.api.observability import note
from service.api.sendable import card_problems
from service.api.wire import HookRequest
from service.errors import ErrorCode, Problem, ServiceError
from service.fhir.resolve import FetchDeps, resolve_prefetch
from service.metrics import Metrics
from service.store.records import AdvisedCall
from terminology.drafts import read_drafts
from terminology.knowledge import Knowledge
from terminology.snapshot import MedicationRecord
from terminology.snapshot_builder import build_snapshot

log = logging.getLogger("calcinosis_cds.hook")
BAD_REQUEST = 400
M = TypeVar("M", bound=BaseModel)


class CardSelection(Protocol):
    """Which advised cards are sent, and the call that queues their history
    (``service.store.history.CardHistory``; the preview page's keeps no history)."""

    async def select(self, call: AdvisedCall) -> tuple[list[AdvisedCard], Callable[[], None]]: ...


@dataclass(frozen=True, slots=True)
class HookDeps:
    fetch: FetchDeps
    knowledge: Knowledge
    clock: Callable[[], datetime]
    history: CardSelection


class OutboundCardError(RuntimeError):
    """A card we built fails the spec's structural check: our bug, never the caller's."""


def parse_json_object(raw: bytes, decode: Callable[[bytes], Any] = decode_json) -> dict[str, Any]:
    """The request body as a JSON object (decoded by ``decode``), or a 400 ``request.malformed-json``."""
    try:
        body = decode(raw)
    except MalformedJsonError as exc:
        raise ServiceError.single(
            BAD_REQUEST, ErrorCode.MALFORMED_JSON, f"request body is not valid JSON: {exc}"
        ) from exc
    if not isinstance(body, dict):
        raise ServiceError.single(BAD_REQUEST, ErrorCode.MALFORMED_JSON, "request body must be a JSON object")
    return body


def parse_model(model: type[M], data: Any, prefix: str = "") -> M:
    """``data`` as ``model``, or a 400 ``request.invalid`` naming each bad field (never echoing values)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            path = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
            problems.append(
                Problem(ErrorCode.INVALID_REQUEST, f"{path or 'body'}: {error['msg']}", path or None)
            )
        raise ServiceError(BAD_REQUEST, problems) from exc


def _parse_call(declaration: ServiceDeclaration, raw: bytes) -> tuple[HookRequest, HookContext]:
    """The request and its context, checked by the hook's own context model; raises ``ServiceError`` 400."""
    request = parse_model(HookRequest, parse_json_object(raw, decode_request))
    if request.hook != declaration.hook:
        raise ServiceError.single(
            BAD_REQUEST,
            ErrorCode.HOOK_MISMATCH,
            f"service {declaration.id!r} answers the {declaration.hook!r} hook, not {request.hook!r}",
            "hook",
        )
    return request, parse_model(HOOKS[declaration.hook].context, request.context, prefix="context")


def _rule_failure_reporter(hook_instance: str, metrics: Metrics) -> RuleFailed:
    """Logs a failed rule with an incident id and counts it; the other rules' cards are still sent.

    The log names the exception type and where it was raised (file:line frames), never its message,
    which may carry a clinical value.
    """

    def failed(rule_id: str, exc: Exception) -> None:
        incident = str(uuid.uuid4())
        metrics.rule_failures.labels(rule_id).inc()
        frames = traceback.extract_tb(exc.__traceback__)
        where = " <- ".join(f"{PurePath(f.filename).name}:{f.lineno}" for f in reversed(frames))
        log.error(
            "rule failed rule=%s incident=%s hookInstance=%s error=%s at=%s",
            rule_id,
            incident,
            hook_instance,
            type(exc).__name__,
            where,
        )

    return failed


def _drafts(
    context: HookContext, knowledge: Knowledge, fhir_server: str | None
) -> tuple[MedicationRecord, ...]:
    """The draft orders the rules judge (order hooks only), read with the chart's terminology."""
    bundle = context.draft_orders()
    if bundle is None:
        return ()
    return read_drafts(bundle, context.patientId, knowledge, context.selected(), fhir_server)


async def call_hook(declaration: ServiceDeclaration, raw: bytes, deps: HookDeps) -> dict[str, Any]:
    """The CDS Hooks response for one call of ``declaration``; its card history is queued, not written."""
    started = time.perf_counter()
    request, context = _parse_call(declaration, raw)
    values = await resolve_prefetch(declaration.prefetch, request, deps.fetch)
    now = deps.clock()
    snapshot = build_snapshot(context.patientId, values.values(), deps.knowledge, now, request.fhirServer)
    failed = _rule_failure_reporter(request.hookInstance, deps.fetch.metrics)
    given = Given(snapshot, _drafts(context, deps.knowledge, request.fhirServer))
    advised = declaration.advise(given, now, lambda: str(uuid.uuid4()), failed)
    wire = {id(a): a.card.to_wire() for a in advised}  # dumped once: checked, then sent as is
    problems = [p for a in advised for p in card_problems(wire[id(a)])]
    if problems:
        raise OutboundCardError("; ".join(problems))
    sent, record = await deps.history.select(
        AdvisedCall(declaration.id, request.hookInstance, context.patientId, advised, now)
    )
    response = {"cards": [wire[id(a)] for a in sent]}  # CDS Hooks 2.0 § CDS Service Response
    record()
    note(  # on the call's one access line (service.api.observability)
        hookInstance=request.hookInstance,
        service=declaration.id,
        cards=len(sent),
        suppressed=len(advised) - len(sent),
        ignored=snapshot.ignored_counts(),
        hook_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return response
