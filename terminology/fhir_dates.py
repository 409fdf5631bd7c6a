"""FHIR R4 ``date``/``dateTime`` parsing (http://hl7.org/fhir/R4/datatypes.html#dateTime).

Partial dates (``2024`` or ``2024-05``) are valid FHIR but too imprecise to pair same-day results or judge
recency; callers treat them as unusable and report why.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


class ImpreciseDateError(ValueError):
    """A year or year-month only date."""


def parse_datetime(text: str) -> datetime:
    """An aware datetime; a date-only value is taken as midnight UTC. Raises ``ValueError``."""
    if len(text) < 10:
        raise ImpreciseDateError(f"date {text!r} has no day")
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        # FHIR requires a zone when a time is given; tolerate its absence as UTC rather than fail.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_date(text: str) -> date:
    """A full calendar date (e.g. ``Patient.birthDate``). Raises ``ValueError``."""
    if len(text) < 10:
        raise ImpreciseDateError(f"date {text!r} has no day")
    return date.fromisoformat(text[:10])
