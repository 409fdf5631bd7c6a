"""Small readers of raw FHIR R4 JSON shared by the snapshot's parts (no pydantic on the hot path)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from terminology.fhir_dates import parse_date, parse_datetime
from terminology.value_set_files import Code

JsonObject = dict[str, Any]


def resources_in(value: Any) -> Iterator[JsonObject]:
    """The resources of one prefetch value: a single resource, or the entries of a Bundle."""
    if not isinstance(value, dict):
        return
    if value.get("resourceType") == "Bundle":
        for entry in as_list(value.get("entry")):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
                yield resource
    elif "resourceType" in value:
        yield value


def as_list(value: Any) -> list[Any]:
    """A JSON array member, or an empty list when it is absent or not an array."""
    return value if isinstance(value, list) else []


def codings(concept: Any) -> list[JsonObject]:
    """The codings of a CodeableConcept (tolerating junk)."""
    if not isinstance(concept, dict):
        return []
    return [c for c in as_list(concept.get("coding")) if isinstance(c, dict)]


def coding_keys(concept: Any) -> list[Code]:
    return [(str(c.get("system", "")), str(c.get("code", ""))) for c in codings(concept)]


def concept_text(concept: Any) -> str:
    """Human text of a CodeableConcept: its text, else its codings' displays."""
    if not isinstance(concept, dict):
        return ""
    if isinstance(concept.get("text"), str) and concept["text"]:
        return str(concept["text"])
    return "; ".join(str(c["display"]) for c in codings(concept) if isinstance(c.get("display"), str))


def concept_texts(concept: Any) -> list[str]:
    """Every human text of a CodeableConcept, each on its own: its text and each coding's display."""
    if not isinstance(concept, dict):
        return []
    texts = [concept["text"]] if isinstance(concept.get("text"), str) else []
    return texts + [str(c["display"]) for c in codings(concept) if isinstance(c.get("display"), str)]


def status_code(concept: Any) -> str | None:
    """The code of a status CodeableConcept (Condition.clinicalStatus / verificationStatus)."""
    for coding in codings(concept):
        if isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def first_text(*candidates: Any) -> str:
    for candidate in candidates:
        if isinstance(candidate, str) and candidate:
            return candidate
    return ""


def period_start(period: Any) -> str:
    return first_text(period.get("start")) if isinstance(period, dict) else ""


def optional_datetime(text: str) -> datetime | None:
    """A parsed dateTime, or None when absent or unparseable (for secondary dates)."""
    try:
        return parse_datetime(text) if text else None
    except ValueError:
        return None


def optional_date(text: str) -> date | None:
    try:
        return parse_date(text) if text else None
    except ValueError:
        return None
