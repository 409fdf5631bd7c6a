"""The hooks this service can answer, as one table: each hook's name and context model.

Request parsing (``service.api.call``), discovery's prefetch check (``service.api.registry``), the OpenAPI
document (``service.api.openapi``) and the request builders (``hook_call``: the ``check`` tool, the preview
page, the tests) all read :data:`HOOKS`. Adding a hook is one context model and one entry here.

Contexts follow the CDS Hooks library, hook version 1.0 (https://cds-hooks.org/hooks/): ``patient-view``,
``order-select`` and ``order-sign``. A context field may be a prefetch token only when it is a string (the
hook tables' "Prefetch Token" column: ``userId``, ``patientId``, ``encounterId`` yes; ``draftOrders`` and
``selections`` no), so the tokens are derived from the model rather than listed again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from service.api.wire import WireModel
from service.fhir.prefetch import USER_TOKENS
from terminology.fhir_json import resources_in


class HookContext(WireModel):
    """The fields every hook we answer shares (each hook's context table)."""

    userId: str = Field(min_length=1)  # noqa: N815 - spec field name
    patientId: str = Field(min_length=1)  # noqa: N815 - spec field name
    encounterId: str | None = None  # noqa: N815 - spec field name

    def draft_orders(self) -> Mapping[str, Any] | None:
        """The draft orders Bundle the rules judge beside the chart; none on chart open."""
        return None

    def selected(self) -> frozenset[str] | None:
        """References (``Type/id``) of the drafts to judge; ``None`` judges every draft."""
        return None


class PatientViewContext(HookContext):
    """patient-view: the chart is opened (https://cds-hooks.org/hooks/patient-view/)."""


class OrderSignContext(HookContext):
    """order-sign: orders are about to be signed; ``draftOrders`` is a Bundle of the session's unsigned
    orders (https://cds-hooks.org/hooks/order-sign/)."""

    draftOrders: dict[str, Any]  # noqa: N815 - spec field name

    @field_validator("draftOrders")
    @classmethod
    def _is_bundle(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("resourceType") != "Bundle":
            raise ValueError("draftOrders must be a FHIR Bundle")
        if not isinstance(value.get("entry", []), list):
            raise ValueError("draftOrders.entry must be an array")
        return value

    def draft_orders(self) -> Mapping[str, Any]:
        return self.draftOrders


class OrderSelectContext(OrderSignContext):
    """order-select: orders were just selected; ``selections`` names them (``Type/id``) among
    ``draftOrders``, and decision support focuses on them (https://cds-hooks.org/hooks/order-select/)."""

    selections: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _selections_are_drafts(self) -> Self:
        drafted = set(draft_references(self.draftOrders))
        unknown = [s for s in self.selections if s not in drafted]
        if unknown:
            raise ValueError(f"selections {unknown} name no resource in draftOrders")
        return self

    def selected(self) -> frozenset[str]:
        return frozenset(self.selections)


def draft_references(bundle: Mapping[str, Any]) -> list[str]:
    """``Type/id`` of each resource in a draft orders Bundle."""
    return [f"{r['resourceType']}/{r.get('id')}" for r in resources_in(bundle)]


@dataclass(frozen=True, slots=True)
class Hook:
    name: str
    context: type[HookContext]

    @property
    def prefetch_tokens(self) -> frozenset[str]:
        """Tokens a prefetch template of a service on this hook may use (CDS Hooks 2.0 § Prefetch tokens)."""
        strings = {
            name for name, field in self.context.model_fields.items() if field.annotation in _TOKEN_TYPES
        }
        return frozenset({f"context.{name}" for name in strings} | set(USER_TOKENS.values()))


_TOKEN_TYPES = (str, str | None)
HOOKS: dict[str, Hook] = {
    hook.name: hook
    for hook in (
        Hook("patient-view", PatientViewContext),
        Hook("order-select", OrderSelectContext),
        Hook("order-sign", OrderSignContext),
    )
}


def hook_call(
    hook: str,
    patient_id: str,
    *,
    user: str,
    drafts: Iterable[dict[str, Any]] = (),
    fhir_server: str | None = None,
    token: str | None = None,
    prefetch: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A call of ``hook`` as an EHR sends it (CDS Hooks 2.0 § HTTP Request). ``drafts`` become the
    ``draftOrders`` Bundle of an order hook, every one of them selected; ``token`` goes in as
    ``fhirAuthorization`` (which the spec allows only with ``fhirServer``)."""
    context: dict[str, Any] = {"userId": user, "patientId": patient_id}
    fields = HOOKS[hook].context.model_fields
    if "draftOrders" in fields:
        context["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": d} for d in drafts]}
    if "selections" in fields:
        context["selections"] = list(draft_references(context["draftOrders"]))
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if prefetch is not None:
        body["prefetch"] = prefetch
    if fhir_server:
        body["fhirServer"] = fhir_server
    if token:
        body["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "calcinosis-cds",
        }
    return body
