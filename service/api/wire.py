"""CDS Hooks 2.0.1 wire models (https://cds-hooks.hl7.org/2.0/).

Tolerant on what we receive: unknown fields and ``extension`` are kept (``extra="allow"``), prefetch values
may be ``null``. Cards are the one typed model the rules build (``cards.card``). Strict on what we send:
responses are dumped with ``exclude_none`` and checked by :func:`service.api.sendable.card_problems` before
they leave, so no ``null``, ``""``, ``[]`` or ``{}`` is emitted. Field names are the spec's camelCase on
purpose, so a model reads like the spec's tables.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import AwareDatetime, Field, field_validator, model_validator

from cards.card import Action, Card, SpecModel
from service.fhir.outbound import normalize_base


class WireModel(SpecModel):
    """Base of every wire model: keeps unknown fields, forbids nothing the spec may add later."""


# --- Requests (§ HTTP Request) -------------------------------------------------------------------------


class FhirAuthorization(WireModel):
    """§ Passing the Access Token to the CDS Service. The token is never logged or stored."""

    access_token: str = Field(min_length=1, repr=False)
    token_type: str
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


class HookRequest(WireModel):
    """Any hook call. The hook-specific ``context`` is checked by the hook's own context model."""

    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1)  # noqa: N815 - spec field name
    fhirServer: str | None = None  # noqa: N815 - spec field name
    fhirAuthorization: FhirAuthorization | None = None  # noqa: N815 - spec field name
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @field_validator("fhirServer")
    @classmethod
    def _usable_fhir_server(cls, value: str | None) -> str | None:
        """A base URL ``service.fhir.outbound`` can judge: a query, fragment, userinfo or anything else
        ``normalize_base`` refuses is a 400 naming ``fhirServer``. Kept as sent; the fetch uses its
        normal form."""
        if value:
            normalize_base(value)
        return value

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> Self:
        # § HTTP Request: "fhirAuthorization ... If provided, fhirServer SHALL also be provided."
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirAuthorization is given without fhirServer")
        return self


# --- Discovery (§ Discovery) ---------------------------------------------------------------------------


class ServiceDescription(WireModel):
    hook: str
    title: str | None = None
    description: str
    id: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None  # noqa: N815 - spec field name


class DiscoveryResponse(WireModel):
    services: list[ServiceDescription]


# --- Responses (§ CDS Service Response) ----------------------------------------------------------------


class HookResponse(WireModel):
    cards: list[Card]
    systemActions: list[Action] | None = None  # noqa: N815 - spec field name


# --- Feedback (§ Feedback) -----------------------------------------------------------------------------
# Every string is bounded, since feedback is stored (``service.store.models.FeedbackEntry``) or at least held
# in memory: a value over a bound is a 400 naming the field, and the batch is not stored. The card uuid and
# the reason code fit their columns (64, 128 characters); the rest leave ample room for real values
# (URIs, labels, a comment) and none for a megabyte.
MAX_CARD_ID = 64
MAX_CODE = 128
MAX_URI = 512
MAX_TEXT = 1024
MAX_COMMENT = 4096
MAX_SUGGESTIONS = 100
MAX_BATCH = 1000


class AcceptedSuggestion(WireModel):
    id: str = Field(max_length=MAX_CODE)


class ReasonCoding(WireModel):
    """The coded override reason (a Coding, § Feedback); only ``system`` and ``code`` are stored."""

    code: str = Field(max_length=MAX_CODE)
    system: str | None = Field(default=None, max_length=MAX_URI)
    display: str | None = Field(default=None, max_length=MAX_TEXT)


class OverrideReason(WireModel):
    reason: ReasonCoding | None = None
    userComment: str | None = Field(default=None, max_length=MAX_COMMENT)  # noqa: N815 - spec field name


class FeedbackItem(WireModel):
    card: str = Field(min_length=1, max_length=MAX_CARD_ID)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = Field(  # noqa: N815 - spec field name
        default=None, max_length=MAX_SUGGESTIONS
    )
    overrideReason: OverrideReason | None = None  # noqa: N815 - spec field name
    outcomeTimestamp: AwareDatetime  # noqa: N815 - spec field name

    @model_validator(mode="after")
    def _accepted_names_suggestions(self) -> Self:
        # § Feedback: acceptedSuggestions is required when the outcome is accepted.
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when outcome is accepted")
        return self


class Feedback(WireModel):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=MAX_BATCH)
