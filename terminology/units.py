"""Converting a reported concentration to an analyte's canonical unit.

The unit is read from the UCUM ``code`` when the quantity says its system is UCUM, else from the free-text
``unit`` (``mg/dl``, ``µmol/L``...) through the alias table in ``data/units.json``. Mass and molar
concentrations convert through the analyte's molar mass. A unit we do not know is an error the caller
reports; it is never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from terminology.knowledge import Analyte, Knowledge

UCUM = "http://unitsofmeasure.org"
# Canonical values are rounded to this many decimals so that, e.g., 2.62 mmol/L x 4.008 compares as 10.501
# and not as 10.500959999; reported precision of serum chemistry is at most 2-3 decimals.
CANONICAL_DECIMALS = 4


class UnitError(ValueError):
    """A unit that cannot be turned into the analyte's canonical unit; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Converted:
    value: float
    unit: str
    source_unit: str


def resolve_unit(knowledge: Knowledge, system: str | None, code: str | None, text: str | None) -> str:
    """The UCUM code of a reported unit, or ``UnitError``."""
    if code and (system is None or system == UCUM) and code in knowledge.units:
        return code
    for candidate in (code, text):
        if candidate:
            alias = knowledge.unit_text.get(candidate.strip().lower())
            if alias:
                return alias
            if candidate.strip() in knowledge.units:
                return candidate.strip()
    shown = code or text
    if not shown:
        raise UnitError("unit-missing", "the quantity has no unit")
    raise UnitError("unit-unknown", f"unit {shown!r} is not a known concentration unit")


def to_canonical(knowledge: Knowledge, analyte: Analyte, value: float, ucum_code: str) -> float:
    """``value`` in ``ucum_code`` expressed in the analyte's canonical unit."""
    source = knowledge.units[ucum_code]
    target = knowledge.units[analyte.canonical_unit]
    base = value * source.to_base
    if source.dimension != target.dimension:
        # mass (g/L) <-> molar (mol/L) through the molar mass (g/mol)
        base = base * analyte.molar_mass if source.dimension == "molar" else base / analyte.molar_mass
    return round(base / target.to_base, CANONICAL_DECIMALS)


def convert(
    knowledge: Knowledge,
    analyte: Analyte,
    value: float,
    system: str | None,
    code: str | None,
    text: str | None,
) -> Converted:
    """Resolve the reported unit and convert; raises ``UnitError``."""
    ucum_code = resolve_unit(knowledge, system, code, text)
    return Converted(to_canonical(knowledge, analyte, value, ucum_code), analyte.canonical_unit, ucum_code)
