"""Loading the shipped knowledge files once: value sets, analytes and units.

Value sets are R4 ValueSet JSON files under ``valuesets/``, referenced by canonical URL. They are read once
per process (``load_knowledge`` is cached) so no request pays for parsing or indexing them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

LOINC = "http://loinc.org"


@dataclass(frozen=True, slots=True)
class Analyte:
    """A laboratory quantity the rules read, e.g. total calcium, in one canonical unit."""

    name: str
    value_set: str
    canonical_unit: str
    molar_mass: float


@dataclass(frozen=True, slots=True)
class UnitDef:
    """A UCUM concentration unit: its dimension and factor to the dimension's base unit."""

    code: str
    dimension: str
    to_base: float


@dataclass(frozen=True, slots=True)
class Knowledge:
    """Everything ``terminology`` knows, indexed for lookups on the hot path."""

    value_sets: dict[str, dict[str, Any]]
    analytes: dict[str, Analyte]
    analyte_by_code: dict[tuple[str, str], str]
    units: dict[str, UnitDef]
    unit_text: dict[str, str]

    def codes_of(self, value_set_url: str) -> list[tuple[str, str]]:
        """(system, code) pairs of a value set's expansion, in file order."""
        return _expansion_codes(self.value_sets[value_set_url])


def _expansion_codes(value_set: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in value_set["expansion"]["contains"]]


def _read_json(package: str, name: str) -> Any:
    return json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


def _load_value_sets() -> dict[str, dict[str, Any]]:
    folder = resources.files("terminology").joinpath("valuesets")
    value_sets: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        vs = json.loads(entry.read_text(encoding="utf-8"))
        if vs["url"] in value_sets:
            raise ValueError(f"value set URL {vs['url']} is defined twice")
        value_sets[vs["url"]] = vs
    return value_sets


@cache
def load_knowledge() -> Knowledge:
    """Load and index the shipped files. Raises on any inconsistency: a broken file must stop start-up."""
    value_sets = _load_value_sets()
    raw_analytes = _read_json("terminology", "data/analytes.json")["analytes"]
    analytes = {
        name: Analyte(name, a["valueSet"], a["canonicalUnit"], float(a["molarMassGPerMol"]))
        for name, a in raw_analytes.items()
    }
    analyte_by_code: dict[tuple[str, str], str] = {}
    for analyte in analytes.values():
        for key in _expansion_codes(value_sets[analyte.value_set]):
            if key in analyte_by_code:
                raise ValueError(f"code {key} belongs to two analytes")
            analyte_by_code[key] = analyte.name
    raw_units = _read_json("terminology", "data/units.json")
    units = {code: UnitDef(code, u["dimension"], float(u["toBase"])) for code, u in raw_units["ucum"].items()}
    unit_text = dict(raw_units["text"])
    for alias, code in unit_text.items():
        if code not in units:
            raise ValueError(f"unit alias {alias!r} points at unknown UCUM code {code!r}")
    for analyte in analytes.values():
        if analyte.canonical_unit not in units:
            raise ValueError(f"canonical unit of {analyte.name} is not a known unit")
    return Knowledge(value_sets, analytes, analyte_by_code, units, unit_text)
