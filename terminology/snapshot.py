"""The typed, immutable ``PatientSnapshot`` the rules read, and the data it is made of.

Nothing here validates whole FHIR resources with pydantic: the builder (``snapshot_builder``) reads only
the few fields it needs from raw JSON, because validating thousands of Observations costs far more than
the rules themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class LabResult:
    """One usable laboratory value, in the analyte's canonical unit, with what was reported."""

    analyte: str
    value: float
    unit: str
    reported_value: float
    reported_unit: str
    effective: datetime
    resource_id: str
    code: str
    display: str

    @property
    def day(self) -> date:
        return self.effective.date()


@dataclass(frozen=True, slots=True)
class Ignored:
    """A resource (or part of one) that was present but not used, and the stable reason why."""

    resource_type: str
    resource_id: str
    reason: str
    detail: str
    analyte: str = ""


@dataclass(frozen=True, slots=True)
class PatientSnapshot:
    """What the rules may know about one patient at one moment."""

    patient_id: str
    birth_date: date | None
    sex: str | None
    labs: Mapping[str, tuple[LabResult, ...]] = field(default_factory=dict)
    ignored: tuple[Ignored, ...] = ()

    def series(self, analyte: str) -> tuple[LabResult, ...]:
        """All usable results of ``analyte``, newest first."""
        return self.labs.get(analyte, ())

    def latest(self, analyte: str) -> LabResult | None:
        results = self.series(analyte)
        return results[0] if results else None

    def ignored_counts(self) -> dict[str, int]:
        """Ignored items by reason code: what logs may carry (counts only, no values)."""
        counts: dict[str, int] = {}
        for item in self.ignored:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        return counts
