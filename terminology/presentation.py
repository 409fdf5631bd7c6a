"""How values are shown to clinicians: short names, human units, clinical precision.

A card is read in seconds: "Phosphate 6.5 mg/dL (2.10 mmol/L)", not "Phosphate [Mass/volume] in Serum or
Plasma 6.505 mg/dL"; "eGFR 23 mL/min/1.73 m²", not "22.87 mL/min/{1.73_m2}". Names and decimals are data
(``data/analytes.json`` ``display``; derived values in ``data/derivation.json``); units are written as
clinicians write them (``data/units.json`` ``display``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # terminology.snapshot -> units -> knowledge -> here: only the type is needed
    from terminology.snapshot import LabResult

# The semantic tag that ends a SNOMED CT fully specified name, e.g. "Hemodialysis (procedure)" (SNOMED CT
# Editorial Guide, "Semantic Tags"): EHRs often send the FSN as the display. It tells a clinician nothing.
CLINICAL_TAGS = ("disorder", "finding", "procedure", "regime/therapy", "situation", "morphologic abnormality")
SEMANTIC_TAG = re.compile(r"\s+\((?:" + "|".join(map(re.escape, CLINICAL_TAGS)) + r")\)$")
SIGNIFICANT = 3  # a unit with no precision on record is shown to three significant digits


@dataclass(frozen=True, slots=True)
class Presenter:
    names: Mapping[str, str]
    decimals: Mapping[tuple[str, str], int]  # (analyte, UCUM unit) -> decimals
    units: Mapping[str, str]  # UCUM code -> how clinicians write it

    def name(self, analyte: str) -> str:
        return self.names.get(analyte, analyte)

    def unit(self, code: str) -> str:
        return self.units.get(code, code)

    def number(self, analyte: str, value: float, unit: str) -> str:
        """``value`` at the clinical precision of ``analyte`` in ``unit``."""
        places = self.decimals.get((analyte, unit))
        return f"{value:.{SIGNIFICANT}g}" if places is None else f"{value:.{places}f}"

    def amount(self, analyte: str, value: float, unit: str, comparator: str | None = None) -> str:
        """A value with its unit: ``6.5 mg/dL``, ``> 150 ng/mL``."""
        bound = f"{comparator} " if comparator else ""
        return f"{bound}{self.number(analyte, value, unit)} {self.unit(unit)}"

    def value(self, result: LabResult) -> str:
        """A result in its canonical unit: ``14.8 mg/dL``."""
        return self.amount(result.analyte, result.value, result.unit, result.comparator)

    def value_both(self, result: LabResult) -> str:
        """A result in its canonical unit and, when it has one, its other common unit: ``14.8 mg/dL
        (3.69 mmol/L)``."""
        shown = self.value(result)
        alt = result.alt_value
        if alt is None or result.alt_unit is None:
            return shown
        return f"{shown} ({self.amount(result.analyte, alt, result.alt_unit)})"


def clinical_display(text: str) -> str:
    """A record's display as a clinician reads it: without a SNOMED CT semantic tag."""
    return SEMANTIC_TAG.sub("", text)
