"""Converting a reported quantity to an analyte's canonical unit (and to its other common unit).

The unit is read from the UCUM ``code`` when the quantity's system is UCUM (or absent), else from the
free-text ``unit`` (``mg/dl``, ``µmol/L``, ``mL/min/1.73m2``...) through the alias table in
``data/units.json``. Mass and molar concentrations convert through the analyte's molar mass. A unit we do
not know, or of the wrong dimension for the analyte, is an error the caller reports; it is never guessed.
"""

from __future__ import annotations

from terminology.knowledge import Analyte, Knowledge

UCUM = "http://unitsofmeasure.org"
# Canonical values are rounded to this many decimals so that, e.g., 2.62 mmol/L x 4.008 compares as
# 10.5004 and not as 10.500435999; reported precision of serum chemistry is at most 2-3 decimals.
CANONICAL_DECIMALS = 4


class UnitError(ValueError):
    """A unit that cannot be turned into the analyte's canonical unit; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _alias(knowledge: Knowledge, text: str) -> str | None:
    key = text.strip()
    if key in knowledge.units:
        return key
    return knowledge.unit_text.get(key.lower().replace(" ", ""))


def resolve_unit(
    knowledge: Knowledge, system: object, code: object, text: object, analyte: Analyte | None = None
) -> str:
    """The UCUM code of a reported unit, or ``UnitError`` (members of the wrong JSON type count as absent).

    ``analyte``'s own aliases come first (``analytes.json`` ``unitAliases``: "mL/min" on an eGFR).
    """
    code = code if isinstance(code, str) else None
    text = text if isinstance(text, str) else None
    if analyte is not None and analyte.unit_aliases:
        for candidate in (code, text):
            if candidate and candidate.strip() in analyte.unit_aliases:
                return analyte.unit_aliases[candidate.strip()]
    if code and system in (None, UCUM) and code in knowledge.units:
        return code
    for candidate in (code, text):
        if candidate:
            found = _alias(knowledge, candidate)
            if found:
                return found
    shown = code or text
    if not shown:
        raise UnitError("unit-missing", "the quantity has no unit")
    raise UnitError("unit-unknown", f"unit {shown!r} is not a known unit")


def to_canonical(knowledge: Knowledge, analyte: Analyte, value: float, source: str) -> float:
    """``value`` in UCUM unit ``source`` expressed in the analyte's canonical unit; raises ``UnitError``.

    Factors are precomputed per (analyte, unit) at start-up (``Knowledge.conversions``).
    """
    factor = knowledge.conversions.get((analyte.name, source))
    if factor is None:
        raise UnitError(
            "unit-wrong-dimension",
            f"{source} cannot be converted to {analyte.canonical_unit} for {analyte.name}",
        )
    return round(value * factor, CANONICAL_DECIMALS)


def convert(
    knowledge: Knowledge, analyte: Analyte, value: float, system: object, code: object, text: object
) -> float:
    """A reported quantity (value, system, code, unit text) in the analyte's canonical unit."""
    return to_canonical(knowledge, analyte, value, resolve_unit(knowledge, system, code, text, analyte))
