"""The one typed card model, from rule output to the wire (CDS Hooks 2.0 § CDS Service Response, § Card
Attributes, § Suggestion, § Action, § Link).

``cards.render`` builds these; ``service.api.wire.HookResponse`` sends them as they are; the structural check
of what we send (``service.api.sendable``) reads them. Field names are the spec's camelCase on purpose, so
a model reads like the spec's tables. Absent optional fields are omitted when dumped (the spec: never send
``null``); unknown fields are kept, so a card read back (a spec example, a stored response) loses nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Indicator = Literal["info", "warning", "critical"]


class SpecModel(BaseModel):
    """Base of every CDS Hooks JSON model: keeps unknown fields, dumps without absent optional fields."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """JSON-ready dict with absent optional fields omitted (spec: never send ``null``)."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class Coding(SpecModel):
    code: str
    system: str | None = None
    display: str | None = None


class Source(SpecModel):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Link(SpecModel):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None  # noqa: N815 - spec field name
    autolaunchable: bool | None = None


class Action(SpecModel):
    """``create`` carries a resource (our draft ServiceRequests); ``delete`` a draft order's ``Type/id``."""

    type: Literal["create", "update", "delete"]
    description: str | None = None
    resource: dict[str, Any] | None = None
    resourceId: str | None = None  # noqa: N815 - spec field name


class Suggestion(SpecModel):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None  # noqa: N815 - spec field name
    actions: list[Action] | None = None


class Card(SpecModel):
    """§ Card Attributes. ``indicator`` is required by the spec for cards we send (``sendable`` checks it);
    it is optional here only so the spec's own example without one can be read. ``extension`` carries our
    provenance (§ Extensions)."""

    uuid: str | None = None
    summary: str
    detail: str | None = None
    indicator: Indicator | None = None
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None  # noqa: N815 - spec field name
    overrideReasons: list[Coding] | None = None  # noqa: N815 - spec field name
    links: list[Link] | None = None
    extension: dict[str, Any] | None = None
