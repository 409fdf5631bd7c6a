"""Loading the shipped knowledge once: value sets, analytes, concepts, units, text terms, constants.

Value sets are R4 ValueSet JSON files under ``valuesets/`` (see ``valuesets/CONVENTIONS.md``). Only codes
marked ``verified`` are indexed for decisions; unverified codes are indexed separately so the snapshot can
report them as present-but-unused instead of silently ignoring them. Everything is read and compiled once
per process (``load_knowledge`` is cached): no request pays for parsing, indexing or regex compilation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from terminology.presentation import Presenter
from terminology.reference_intervals import ReferenceIntervals, load_reference_intervals
from terminology.text_terms import (
    TextMatcher,
    injectable_means_intravenous,
    memoised_text_concepts,
    text_matchers,
)
from terminology.value_set_files import (
    VS_BASE,
    Code,
    expansion_codes,
    load_value_sets,
    read_json,
    split_verified,
)


@dataclass(frozen=True, slots=True)
class Analyte:
    """A laboratory quantity the rules read, e.g. total calcium, in one canonical unit."""

    name: str
    value_set: str
    canonical_unit: str
    alt_unit: str | None
    molar_mass: float | None
    plausible_low: float
    plausible_high: float
    # unit text or code -> UCUM code, for this analyte only (an eGFR written "mL/min" is per 1.73 m2)
    unit_aliases: dict[str, str]

    def plausible(self, value: float) -> bool:
        """Whether a value in the canonical unit can be a living patient's (``analytes.json``)."""
        return self.plausible_low <= value <= self.plausible_high


@dataclass(frozen=True, slots=True)
class UnitDef:
    """A UCUM unit: its dimension and factor to the dimension's base unit."""

    code: str
    dimension: str
    to_base: float


@dataclass(frozen=True, slots=True)
class Order:
    """A test the cards may suggest: a verified LOINC code (or text only), and the analytes it produces."""

    key: str
    system: str | None
    code: str | None
    display: str
    analytes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Knowledge:
    """Everything ``terminology`` knows, indexed for lookups on the hot path."""

    value_sets: dict[str, dict[str, Any]]
    analytes: dict[str, Analyte]
    analyte_by_code: dict[Code, str]
    concepts_by_code: dict[str, dict[Code, frozenset[str]]]
    unverified: frozenset[Code]
    text: dict[str, TextMatcher]
    # Concepts whose text matcher matches a text, memoised: a chart repeats the same drug and route texts,
    # and running every matcher's regex on each is most of a medication's reading cost.
    text_concepts: Callable[[str], frozenset[str]]
    # Medication concepts whose injectable forms are only given intravenously: for these, a parenteral dose
    # form in the drug's text makes a route-less order intravenous (medication_text.json doseForms).
    injectable_means_intravenous: frozenset[str]
    units: dict[str, UnitDef]
    unit_text: dict[str, str]
    # UCUM code -> how clinicians write it (mL/min/1.73 m², not mL/min/{1.73_m2}); others shown as coded
    unit_display: dict[str, str]
    # (analyte, source UCUM unit) -> factor to the analyte's canonical unit
    conversions: dict[tuple[str, str], float]
    # analyte -> factor from its canonical to its alternative unit (analytes that have one)
    alt_factors: dict[str, float]
    orders: dict[str, Order]
    ckd_stages: dict[str, int]
    dialysis_conditions: frozenset[str]
    dialysis_procedures: frozenset[str]
    derivation: dict[str, Any]
    # family (condition, procedure, medication, route) -> the concept names (value set ids) it has
    concept_names: dict[str, frozenset[str]]
    reference_intervals: ReferenceIntervals
    presenter: Presenter

    def show_unit(self, code: str) -> str:
        """A unit as clinicians write it."""
        return self.unit_display.get(code, code)

    def codes_of(self, value_set_url: str) -> list[Code]:
        """(system, code) pairs of a value set's expansion, in file order."""
        return expansion_codes(self.value_sets[value_set_url])

    def concepts_of(self, family: str, codings: list[Code]) -> frozenset[str]:
        """Concepts of ``family`` that any of ``codings`` belongs to (verified codes only)."""
        index = self.concepts_by_code[family]
        found: frozenset[str] = frozenset()
        for coding in codings:
            found |= index.get(coding, frozenset())
        return found


@cache
def load_knowledge() -> Knowledge:
    """Load and index the shipped files. Raises on any inconsistency: a broken file must stop start-up."""
    value_sets = load_value_sets()
    analytes_raw = read_json("analytes.json")["analytes"]
    analytes = {
        name: Analyte(
            name,
            a["valueSet"],
            a["canonicalUnit"],
            a.get("altUnit"),
            a.get("molarMassGPerMol"),
            float(a["plausible"]["low"]),
            float(a["plausible"]["high"]),
            dict(a.get("unitAliases", {})),
        )
        for name, a in analytes_raw.items()
    }
    unverified: set[Code] = set()
    analyte_by_code: dict[Code, str] = {}
    for analyte in analytes.values():
        verified, other = split_verified(value_sets[analyte.value_set])
        unverified.update(other)
        for key in verified:
            if key in analyte_by_code:
                raise ValueError(f"code {key} belongs to two analytes")
            analyte_by_code[key] = analyte.name
    concepts = read_json("concepts.json")
    urls = {vs_id: VS_BASE + vs_id for ids in concepts["families"].values() for vs_id in ids}
    concepts_by_code: dict[str, dict[Code, frozenset[str]]] = {}
    for family, ids in concepts["families"].items():
        index: dict[Code, frozenset[str]] = {}
        for vs_id in ids:
            verified, other = split_verified(value_sets[urls[vs_id]])
            unverified.update(other)
            for key in verified:
                index[key] = index.get(key, frozenset()) | {vs_id}
        concepts_by_code[family] = index
    raw_units = read_json("units.json")
    medication_text = read_json("medication_text.json")
    matchers = text_matchers(medication_text, urls)
    units = {code: UnitDef(code, u["dimension"], float(u["toBase"])) for code, u in raw_units["ucum"].items()}
    unit_text = dict(raw_units["text"])
    _check_units(units, unit_text, analytes)
    conversions = {
        (analyte.name, source): factor
        for analyte in analytes.values()
        for source in units
        if (factor := _factor(units[source], units[analyte.canonical_unit], analyte.molar_mass)) is not None
    }
    alt_factors = {a.name: _alt_factor(units, a) for a in analytes.values() if a.alt_unit is not None}
    return Knowledge(
        value_sets=value_sets,
        analytes=analytes,
        analyte_by_code=analyte_by_code,
        concepts_by_code=concepts_by_code,
        unverified=frozenset(unverified),
        text=matchers,
        text_concepts=memoised_text_concepts(matchers),
        injectable_means_intravenous=injectable_means_intravenous(medication_text, urls),
        units=units,
        unit_text=unit_text,
        unit_display={k: v for k, v in raw_units["display"].items() if k != "about"},
        conversions=conversions,
        alt_factors=alt_factors,
        orders=_orders(read_json("orders.json")["orders"], value_sets, analytes),
        ckd_stages=dict(concepts["ckdStages"]),
        dialysis_conditions=frozenset(concepts["dialysis"]["conditions"]),
        dialysis_procedures=frozenset(concepts["dialysis"]["procedures"]),
        derivation=read_json("derivation.json"),
        concept_names={family: frozenset(ids) for family, ids in concepts["families"].items()},
        presenter=_presenter(analytes_raw, read_json("derivation.json")["display"], raw_units["display"]),
        reference_intervals=load_reference_intervals(
            read_json("reference_intervals.json"), {a.name: a.canonical_unit for a in analytes.values()}
        ),
    )


def _orders(
    raw: dict[str, Any], value_sets: dict[str, dict[str, Any]], analytes: dict[str, Analyte]
) -> dict[str, Order]:
    """Orders, refusing a code that is not a verified code of its value set (or, for a test no analyte
    reads, an inline code without provenance), or an unknown analyte."""
    orders = {}
    for key, spec in raw.items():
        unknown = set(spec["analytes"]) - set(analytes)
        if unknown:
            raise ValueError(f"order {key} names unknown analytes {sorted(unknown)}")
        if "code" not in spec:
            orders[key] = Order(key, None, None, spec["text"], tuple(spec["analytes"]))
            continue
        if "system" in spec:  # a test no analyte of ours reads: coded inline, with where it was verified
            if not spec.get("provenance"):
                raise ValueError(f"order {key}: an inline code needs its provenance")
            orders[key] = Order(key, spec["system"], spec["code"], spec["display"], tuple(spec["analytes"]))
            continue
        value_set = value_sets[VS_BASE + spec["valueSet"]]
        verified, _ = split_verified(value_set)
        match = [(s, c) for s, c in verified if c == spec["code"]]
        if not match:
            raise ValueError(f"order {key}: {spec['code']} is not a verified code of {spec['valueSet']}")
        display = next(c["display"] for c in value_set["expansion"]["contains"] if c["code"] == spec["code"])
        orders[key] = Order(key, match[0][0], spec["code"], display, tuple(spec["analytes"]))
    return orders


def _presenter(analytes: dict[str, Any], derived: dict[str, Any], units: dict[str, str]) -> Presenter:
    shown = {name: spec["display"] for name, spec in analytes.items()} | {
        name: spec for name, spec in derived.items() if name != "about"
    }
    return Presenter(
        names={name: d["name"] for name, d in shown.items()},
        decimals={
            (name, unit): int(places) for name, d in shown.items() for unit, places in d["decimals"].items()
        },
        units={code: text for code, text in units.items() if code != "about"},
    )


MASS_AND_MOLAR = frozenset({"mass", "molar"})


def _factor(source: UnitDef, target: UnitDef, molar_mass: float | None) -> float | None:
    """The multiplier from ``source`` to ``target`` for an analyte, or None when they do not convert."""
    if source.dimension == target.dimension:
        return source.to_base / target.to_base
    if {source.dimension, target.dimension} != MASS_AND_MOLAR or molar_mass is None:
        return None
    # mass (g/L) <-> molar (mol/L) through the molar mass (g/mol)
    through = molar_mass if source.dimension == "molar" else 1 / molar_mass
    return source.to_base * through / target.to_base


def _alt_factor(units: dict[str, UnitDef], analyte: Analyte) -> float:
    """The multiplier from the canonical to the alternative unit; a data error if they do not convert."""
    assert analyte.alt_unit is not None  # noqa: S101 - callers pass analytes with an alternative unit
    factor = _factor(units[analyte.canonical_unit], units[analyte.alt_unit], analyte.molar_mass)
    if factor is None:
        raise ValueError(f"{analyte.name}: {analyte.canonical_unit} does not convert to {analyte.alt_unit}")
    return factor


def _check_units(units: dict[str, UnitDef], unit_text: dict[str, str], analytes: dict[str, Analyte]) -> None:
    for alias, code in unit_text.items():
        if code not in units:
            raise ValueError(f"unit alias {alias!r} points at unknown UCUM code {code!r}")
    for analyte in analytes.values():
        for unit in (analyte.canonical_unit, analyte.alt_unit, *analyte.unit_aliases.values()):
            if unit is not None and unit not in units:
                raise ValueError(f"unit {unit} of {analyte.name} is not a known unit")
