"""Age- and sex-specific reference intervals (``data/reference_intervals.json``).

Phosphate, calcium and alkaline phosphatase run higher in children (bone growth), so an adult limit calls a
healthy child's phosphate high, and a child's true hyperphosphatemia may sit under an adult-sized guess.
The rules ask for the interval of the patient's age on the day of the result: pediatric bands from one
reference laboratory, adult bands from the sources the rules already cite. Ages are half-open
``[from, to)`` spans counted in calendar days, months or years from the birth date.
"""

from __future__ import annotations

import itertools
import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

SPAN = re.compile(r"^(\d+)(d|mo|y)$")
SAMPLE_BIRTH = date(2000, 1, 31)  # orders the bands' edges when they are checked


@dataclass(frozen=True, slots=True)
class Interval:
    """One band's limits (None where its source gives none), the citation key and the band's label."""

    low: float | None
    high: float | None
    unit: str
    citation: str
    label: str


@dataclass(frozen=True, slots=True)
class _Age:
    """An age written ``31d``, ``3mo`` or ``2y``, parsed once when the data is loaded (a rule asks for the
    interval of every result it reads: parsing the text each time was 6 % of a card-issuing call's Python
    time, ``bench/profile.py``)."""

    count: int
    unit: str  # d, mo or y

    @classmethod
    def parse(cls, span: str) -> _Age:
        match = SPAN.match(span)
        if match is None:
            raise ValueError(f"age {span!r} is not <n>d, <n>mo or <n>y")
        return cls(int(match.group(1)), match.group(2))

    def after(self, birth: date) -> date:
        """The day this age is reached; born on Feb 29, one turns a year older on Feb 28 in other years."""
        if self.unit == "d":
            return birth + timedelta(days=self.count)
        months = birth.month - 1 + (self.count if self.unit == "mo" else 12 * self.count)
        year, month = birth.year + months // 12, months % 12 + 1
        return date(year, month, min(birth.day, monthrange(year, month)[1]))  # else the month's last day


@dataclass(frozen=True, slots=True)
class _Band:
    start: _Age
    end: _Age | None
    label: str
    female: tuple[float | None, float | None]
    male: tuple[float | None, float | None]
    citation: str

    def limits(self, sex: str | None) -> tuple[float | None, float | None]:
        """The interval for ``sex``; for another or unknown sex, the wider of the two."""
        if sex == "female":
            return self.female
        if sex == "male":
            return self.male
        lows = [v for v in (self.female[0], self.male[0]) if v is not None]
        highs = [v for v in (self.female[1], self.male[1]) if v is not None]
        return (min(lows) if lows else None, max(highs) if highs else None)


@dataclass(frozen=True, slots=True)
class ReferenceIntervals:
    """Bands per analyte, checked when loaded: contiguous from birth, the last one open-ended."""

    bands: dict[str, tuple[tuple[_Band, ...], str]]  # analyte -> (bands, canonical unit)

    def interval(self, analyte: str, birth: date | None, sex: str | None, day: date) -> Interval | None:
        """The interval for a result of ``analyte`` taken on ``day``; the adult band when age is unknown."""
        entry = self.bands.get(analyte)
        if entry is None:
            return None
        bands, unit = entry
        # Bands are contiguous from birth (checked at load): the one covering ``day`` is the last that has
        # started by then - for an adult the first one asked (a result before birth gets the adult band).
        started = (b for b in reversed(bands) if birth is not None and b.start.after(birth) <= day)
        band = next(started, bands[-1])
        low, high = band.limits(sex)
        return Interval(low, high, unit, band.citation, band.label)

    def citations(self) -> set[str]:
        return {band.citation for bands, _ in self.bands.values() for band in bands}


def _limits(raw: Any) -> tuple[float | None, float | None]:
    low, high = raw
    return (None if low is None else float(low), None if high is None else float(high))


def load_reference_intervals(raw: dict[str, Any], canonical_units: dict[str, str]) -> ReferenceIntervals:
    """Parse and check the data file; a gap, an overlap or a unit that is not canonical stops start-up."""
    indexed: dict[str, tuple[tuple[_Band, ...], str]] = {}
    for name, spec in raw["intervals"].items():
        bands = tuple(
            _Band(
                _Age.parse(b["from"]),
                None if b["to"] is None else _Age.parse(b["to"]),
                b["label"],
                _limits(b["female"]),
                _limits(b["male"]),
                b["citation"],
            )
            for b in spec["bands"]
        )
        if bands[0].start != _Age(0, "d") or bands[-1].end is not None:
            raise ValueError(f"reference interval {name}: bands must start at 0d and end open")
        ordered = [b.start.after(SAMPLE_BIRTH) for b in bands]
        gaps = any(b.end != after.start for b, after in itertools.pairwise(bands))
        if gaps or ordered != sorted(set(ordered)):
            raise ValueError(f"reference interval {name}: bands must be contiguous and increasing")
        for analyte in spec["analytes"]:
            if canonical_units.get(analyte) != spec["unit"]:
                raise ValueError(f"reference interval {name}: {spec['unit']} is not the unit of {analyte}")
            indexed[analyte] = (bands, spec["unit"])
    return ReferenceIntervals(indexed)
