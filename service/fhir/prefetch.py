"""Prefetch (CDS Hooks 2.0 § Prefetch Template, § Prefetch tokens), as pure functions.

Each declared key of a request is in exactly one state:

* ``PROVIDED``  - the EHR sent a resource or Bundle: use it;
* ``NO_DATA``   - the EHR sent ``null``: it has no data for the query, so do not fetch;
* ``MISSING``   - the key is absent: fetch it from ``fhirServer``;
* ``EHR_FAILED``- the EHR sent an OperationOutcome (or a Bundle carrying an error outcome, or something
  that is not a resource): it failed, so fetch it ourselves if we can.

Template substitution is pure: tokens are the spec's ``{{context.*}}`` and ``{{userPractitionerId}}``
family, and substituted values are percent-encoded so an id cannot change the query's shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import quote

TOKEN = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9.]*)\s*\}\}")
# § Prefetch tokens: user identity tokens derived from context.userId ("Practitioner/123" -> 123).
USER_TOKENS = {
    "Practitioner": "userPractitionerId",
    "PractitionerRole": "userPractitionerRoleId",
    "Patient": "userPatientId",
    "RelatedPerson": "userRelatedPersonId",
}
FAILED_SEVERITIES = frozenset({"error", "fatal"})


class PrefetchState(StrEnum):
    PROVIDED = "provided"
    NO_DATA = "no-data"
    MISSING = "missing"
    EHR_FAILED = "ehr-failed"


class TemplateError(ValueError):
    """A template token with no value in this request's context."""

    def __init__(self, token: str) -> None:
        super().__init__(f"prefetch token {{{{{token}}}}} has no value in this request")
        self.token = token


def _is_error_outcome(resource: Any) -> bool:
    if not isinstance(resource, dict) or resource.get("resourceType") != "OperationOutcome":
        return False
    issues = resource.get("issue") or []
    return any(isinstance(i, dict) and i.get("severity") in FAILED_SEVERITIES for i in issues) or not issues


def classify(prefetch: Mapping[str, Any] | None, key: str) -> PrefetchState:
    """The state of ``key`` in a request's prefetch."""
    if prefetch is None or key not in prefetch:
        return PrefetchState.MISSING
    value = prefetch[key]
    if value is None:
        return PrefetchState.NO_DATA
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return PrefetchState.EHR_FAILED
    if _is_error_outcome(value):
        return PrefetchState.EHR_FAILED
    if value["resourceType"] == "Bundle":
        entries = value.get("entry") or []
        if any(isinstance(e, dict) and _is_error_outcome(e.get("resource")) for e in entries):
            return PrefetchState.EHR_FAILED
    return PrefetchState.PROVIDED


def token_values(context: Mapping[str, Any]) -> dict[str, str]:
    """Every token value available for a request: ``context.<field>`` and the user tokens."""
    values = {f"context.{name}": value for name, value in context.items() if isinstance(value, str)}
    kind, _, ident = str(context.get("userId", "")).partition("/")
    if kind in USER_TOKENS and ident:
        values[USER_TOKENS[kind]] = ident
    return values


def render_template(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each token replaced by its percent-encoded value.

    Raises ``TemplateError`` for a token with no value in ``values``.
    """

    def substitute(match: re.Match[str]) -> str:
        token = match.group(1)
        if token not in values:
            raise TemplateError(token)
        return quote(values[token], safe="")

    return TOKEN.sub(substitute, template)


def tokens_of(template: str) -> set[str]:
    """The tokens a template uses (for checking declarations at start-up)."""
    return set(TOKEN.findall(template))
