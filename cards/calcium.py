"""Which calcium speaks for the patient now: ionized, else albumin-corrected, else total (flagged).

Ionized calcium is measured and needs no correction; a corrected calcium (reported, or derived with a
same-day albumin by the snapshot) comes next; a total calcium with no same-day albumin is used last and
the card says it is uncorrected. Among these, the most recent day wins; on the same day, the better basis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cards.data_files import card_words
from cards.evidence import recent
from terminology.snapshot import LabResult, PatientSnapshot

# (analyte, basis) in order of preference on the same day.
BASES = (
    ("calcium-ionized", "ionized"),
    ("calcium-albumin-corrected", "corrected"),
    ("calcium-total", "total"),
)


@dataclass(frozen=True, slots=True)
class CalciumReading:
    result: LabResult
    basis: str

    @property
    def basis_word(self) -> str:
        """How a card names this calcium ("corrected", ...; ``data/render.json`` ``calciumBasis``)."""
        return str(card_words()["calciumBasis"][self.basis])


def latest_calcium(snapshot: PatientSnapshot, since: datetime) -> CalciumReading | None:
    readings = [
        CalciumReading(result, basis)
        for analyte, basis in BASES
        if (result := recent(snapshot, analyte, since)) is not None
    ]
    if not readings:
        return None
    newest_day = max(r.result.day for r in readings)
    return next(r for r in readings if r.result.day == newest_day)
