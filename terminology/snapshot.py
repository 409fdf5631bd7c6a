"""The typed, immutable ``PatientSnapshot`` the rules read, and the records it is made of.

Every record keeps what a clinician needs to check it: the resource id, the code and display as sent,
the value as reported next to its canonical value, and for derived values the inputs they came from.
Nothing here validates whole FHIR resources with pydantic: the builder reads only the fields it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from terminology.units import CANONICAL_DECIMALS

Comparator = str  # one of "<", "<=", ">", ">=" (R4 QuantityComparator)


class LabResult(NamedTuple):
    """One usable laboratory value (reported or derived) in the analyte's canonical unit.

    ``alt_value``/``alt_unit`` give the same value in the analyte's other common unit (e.g. mmol/L for
    calcium), computed when read from ``alt_factor`` (most results are never shown). ``comparator`` is
    kept, never dropped: ``>15`` is a lower bound, ``<2`` an upper bound.
    A derived value has ``derived_from`` (the resource ids it was computed from) and ``method``.
    A NamedTuple, not a frozen dataclass: it is built once per Observation on the hot path, and a
    frozen dataclass's ``__init__`` costs several times more (measured with bench/snapshot_build.py).
    """

    analyte: str
    value: float
    unit: str
    reported_value: float
    reported_unit: str
    effective: datetime
    resource_id: str
    code: str
    display: str
    comparator: Comparator | None = None
    alt_factor: float | None = None
    alt_unit: str | None = None
    reference_low: float | None = None
    reference_high: float | None = None
    interpretation: str | None = None
    derived_from: tuple[str, ...] = ()
    method: str = ""

    @property
    def alt_value(self) -> float | None:
        """The value in ``alt_unit``, converted from the rounded canonical value."""
        return None if self.alt_factor is None else round(self.value * self.alt_factor, CANONICAL_DECIMALS)

    @property
    def day(self) -> date:
        return self.effective.date()

    @property
    def lower_bound(self) -> float | None:
        """The least the true value can be (None for ``<`` results)."""
        return None if self.comparator in ("<", "<=") else self.value

    @property
    def upper_bound(self) -> float | None:
        """The most the true value can be (None for ``>`` results)."""
        return None if self.comparator in (">", ">=") else self.value

    @property
    def is_derived(self) -> bool:
        return bool(self.derived_from)


@dataclass(frozen=True, slots=True)
class ConditionRecord:
    """A coded Condition mapped to our concepts, with its statuses and dates."""

    concepts: frozenset[str]
    resource_id: str
    system: str
    code: str
    display: str
    clinical_status: str | None
    verification_status: str | None
    onset: date | None
    recorded: date | None
    abated: bool

    @property
    def present(self) -> bool:
        """Active, recurrence or relapse (a missing clinical status counts as present), and not abated."""
        return not self.abated and self.clinical_status in (None, "active", "recurrence", "relapse")


@dataclass(frozen=True, slots=True)
class ProcedureRecord:
    concepts: frozenset[str]
    resource_id: str
    code: str
    display: str
    status: str
    performed: datetime | None


@dataclass(frozen=True, slots=True)
class MedicationRecord:
    """A MedicationRequest or MedicationAdministration matched to our medication categories.

    ``matched_by`` says whether the category came from a verified ingredient code or from the text
    fallback; ``intravenous`` is True/False from the dosage route, None when no route was given; ``local``
    is True when the route or dose form acts locally (topical, inhaled, eye drops...), not systemically.
    """

    categories: frozenset[str]
    resource_type: str
    resource_id: str
    display: str
    status: str
    when: datetime | None
    intravenous: bool | None
    matched_by: str
    local: bool = False


@dataclass(frozen=True, slots=True)
class Ignored:
    """A resource (or part of one) that was present but not used, and the stable reason why."""

    resource_type: str
    resource_id: str
    reason: str
    detail: str
    analyte: str = ""


@dataclass(frozen=True, slots=True)
class Staging:
    """A CKD stage (1-5) or eGFR category, and the one piece of evidence it rests on.

    ``basis`` is ``measured`` (a reported eGFR), ``derived`` (computed from creatinine) or ``coded`` (a
    Condition); ``value`` is the eGFR (None when coded); ``notes`` say which evidence was not used and why
    (a coded stage the newer measured eGFR disagrees with).
    """

    stage: int
    label: str
    basis: str
    value: float | None
    day: date | None
    reference: str
    display: str
    notes: tuple[str, ...] = ()


class DialysisEvidence(NamedTuple):
    """A record that shows the patient is on dialysis: what it is (its display, or its code when it has
    none), when (a procedure's date), and its code as sent (for the card's provenance, not its table)."""

    reference: str
    display: str
    day: date | None
    code: str


@dataclass(frozen=True, slots=True)
class PatientSnapshot:
    """What the rules may know about one patient at one moment (``as_of``)."""

    patient_id: str
    as_of: datetime
    birth_date: date | None = None
    sex: str | None = None
    deceased: bool = False  # Patient.deceasedBoolean true or a deceasedDateTime: no risk advice
    labs: Mapping[str, tuple[LabResult, ...]] = field(default_factory=dict)
    conditions: tuple[ConditionRecord, ...] = ()
    procedures: tuple[ProcedureRecord, ...] = ()
    medications: tuple[MedicationRecord, ...] = ()
    ckd: Staging | None = None
    dialysis: tuple[DialysisEvidence, ...] = ()
    ignored: tuple[Ignored, ...] = ()

    @property
    def age_years(self) -> int | None:
        return age_on(self.birth_date, self.as_of.date()) if self.birth_date else None

    def series(self, analyte: str) -> tuple[LabResult, ...]:
        """All usable results of ``analyte`` (reported and derived), newest first."""
        return self.labs.get(analyte, ())

    def latest(self, analyte: str) -> LabResult | None:
        results = self.series(analyte)
        return results[0] if results else None

    def conditions_of(self, *concepts: str) -> tuple[ConditionRecord, ...]:
        """Present conditions of any of ``concepts``, each once, in record order (refuted and
        entered-in-error never get here)."""
        return tuple(c for c in self.conditions if c.present and not c.concepts.isdisjoint(concepts))

    def medications_of(self, category: str) -> tuple[MedicationRecord, ...]:
        return tuple(m for m in self.medications if category in m.categories)

    @property
    def on_dialysis(self) -> bool:
        return bool(self.dialysis)

    def ignored_counts(self) -> dict[str, int]:
        """Ignored items by reason code: what logs may carry (counts only, no values)."""
        counts: dict[str, int] = {}
        for item in self.ignored:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        return counts


def age_on(birth: date, day: date) -> int:
    """Completed years of age on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
