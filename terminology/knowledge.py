"""Loading the shipped knowledge once: value sets, analytes, concepts, units, text terms, constants.

Value sets are R4 ValueSet JSON files under ``valuesets/`` (see ``valuesets/CONVENTIONS.md``). Only codes
marked ``verified`` are indexed for decisions; unverified codes are indexed separately so the snapshot can
report them as present-but-unused instead of silently ignoring them. Everything is read and compiled once
per process (``load_knowledge`` is cached): no request pays for parsing, indexing or regex compilation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from terminology.presentation import Presenter
from terminology.reference_intervals import ReferenceIntervals, load_reference_intervals

VS_BASE = "http://calcinosis-cds.example.org/fhir/ValueSet/"
EXT_BASE = "http://calcinosis-cds.example.org/fhir/StructureDefinition/"
VERIFICATION_EXT = EXT_BASE + "code-verification"
PROVENANCE_EXT = EXT_BASE + "code-provenance"

Code = tuple[str, str]  # (system, code)
LOCAL_ROUTE = "local-route"  # text matcher for topical/inhaled/... routes and dose forms
PARENTERAL_FORM = "parenteral-dose-form"  # text matcher for injectable dose forms ("Injectable Solution")
TEXT_MEMO_SIZE = 4096  # distinct medication and route texts remembered (a few hundred kB at most)


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
class TextMatcher:
    """Case-insensitive, word-bounded include terms minus exclude terms, compiled once."""

    include: re.Pattern[str]
    exclude: re.Pattern[str] | None

    def matches(self, text: str) -> bool:
        """Whether one text (a display or CodeableConcept.text) names the concept (medication_text.json)."""
        text = " ".join(text.split())
        return bool(self.include.search(text)) and not (self.exclude and self.exclude.search(text))


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
        return _expansion_codes(self.value_sets[value_set_url])

    def concepts_of(self, family: str, codings: list[Code]) -> frozenset[str]:
        """Concepts of ``family`` that any of ``codings`` belongs to (verified codes only)."""
        index = self.concepts_by_code[family]
        found: frozenset[str] = frozenset()
        for coding in codings:
            found |= index.get(coding, frozenset())
        return found


def _expansion_codes(value_set: dict[str, Any]) -> list[Code]:
    return [(c["system"], c["code"]) for c in value_set["expansion"]["contains"]]


def _read_json(name: str) -> Any:
    return json.loads(resources.files("terminology").joinpath("data", name).read_text(encoding="utf-8"))


def _load_value_sets() -> dict[str, dict[str, Any]]:
    folder = resources.files("terminology").joinpath("valuesets")
    value_sets: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            vs = json.loads(entry.read_text(encoding="utf-8"))
            if vs["url"] in value_sets:
                raise ValueError(f"value set URL {vs['url']} is defined twice")
            value_sets[vs["url"]] = vs
    return value_sets


def verification_of(value_set: dict[str, Any]) -> dict[Code, str]:
    """(system, code) -> ``verified`` | ``unverified``, from the compose concepts' extensions."""
    status: dict[Code, str] = {}
    for include in value_set["compose"]["include"]:
        for concept in include.get("concept", []):
            exts = {e["url"]: e for e in concept.get("extension", [])}
            verification = exts.get(VERIFICATION_EXT, {}).get("valueCode", "unverified")
            status[(include["system"], concept["code"])] = verification
    return status


def _split_verified(value_set: dict[str, Any]) -> tuple[list[Code], list[Code]]:
    status = verification_of(value_set)
    codes = _expansion_codes(value_set)
    return [c for c in codes if status.get(c) == "verified"], [
        c for c in codes if status.get(c) != "verified"
    ]


def _terms(terms: list[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def _memoised_text_concepts(matchers: dict[str, TextMatcher]) -> Callable[[str], frozenset[str]]:
    @lru_cache(maxsize=TEXT_MEMO_SIZE)  # bounded: texts come from requests
    def text_concepts(text: str) -> frozenset[str]:
        return frozenset(concept for concept, matcher in matchers.items() if matcher.matches(text))

    return text_concepts


def _text_matchers(raw: dict[str, Any], urls: dict[str, str]) -> dict[str, TextMatcher]:
    by_url = {url: concept for concept, url in urls.items()}
    matchers = {}
    for section in ("valueSets", "routes"):
        for url, spec in raw.get(section, {}).items():
            include = _terms(spec.get("include", []))
            if url not in by_url or include is None:
                raise ValueError(f"text terms for unknown or empty value set {url}")
            matchers[by_url[url]] = TextMatcher(include, _terms(spec.get("exclude", [])))
    local = _terms(raw["localRoutes"]["include"])
    if local is None:
        raise ValueError("localRoutes needs include terms")
    matchers[LOCAL_ROUTE] = TextMatcher(local, None)
    parenteral = raw["doseForms"]["parenteral"]
    include = _terms(parenteral["include"])
    if include is None:
        raise ValueError("doseForms.parenteral needs include terms")
    matchers[PARENTERAL_FORM] = TextMatcher(include, _terms(parenteral.get("exclude", [])))
    return matchers


def _injectable_means_intravenous(raw: dict[str, Any], urls: dict[str, str]) -> frozenset[str]:
    """Concepts (by id) named in doseForms.parenteral.impliesIntravenousFor; an unknown URL stops start-up."""
    by_url = {url: concept for concept, url in urls.items()}
    wanted = raw["doseForms"]["parenteral"]["impliesIntravenousFor"]
    unknown = [url for url in wanted if url not in by_url]
    if unknown:
        raise ValueError(f"doseForms.parenteral names unknown value sets {unknown}")
    return frozenset(by_url[url] for url in wanted)


@cache
def load_knowledge() -> Knowledge:
    """Load and index the shipped files. Raises on any inconsistency: a broken file must stop start-up."""
    value_sets = _load_value_sets()
    analytes_raw = _read_json("analytes.json")["analytes"]
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
        verified, other = _split_verified(value_sets[analyte.value_set])
        unverified.update(other)
        for key in verified:
            if key in analyte_by_code:
                raise ValueError(f"code {key} belongs to two analytes")
            analyte_by_code[key] = analyte.name
    concepts = _read_json("concepts.json")
    urls = {vs_id: VS_BASE + vs_id for ids in concepts["families"].values() for vs_id in ids}
    concepts_by_code: dict[str, dict[Code, frozenset[str]]] = {}
    for family, ids in concepts["families"].items():
        index: dict[Code, frozenset[str]] = {}
        for vs_id in ids:
            verified, other = _split_verified(value_sets[urls[vs_id]])
            unverified.update(other)
            for key in verified:
                index[key] = index.get(key, frozenset()) | {vs_id}
        concepts_by_code[family] = index
    raw_units = _read_json("units.json")
    medication_text = _read_json("medication_text.json")
    matchers = _text_matchers(medication_text, urls)
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
        text_concepts=_memoised_text_concepts(matchers),
        injectable_means_intravenous=_injectable_means_intravenous(medication_text, urls),
        units=units,
        unit_text=unit_text,
        unit_display={k: v for k, v in raw_units["display"].items() if k != "about"},
        conversions=conversions,
        alt_factors=alt_factors,
        orders=_orders(_read_json("orders.json")["orders"], value_sets, analytes),
        ckd_stages=dict(concepts["ckdStages"]),
        dialysis_conditions=frozenset(concepts["dialysis"]["conditions"]),
        dialysis_procedures=frozenset(concepts["dialysis"]["procedures"]),
        derivation=_read_json("derivation.json"),
        concept_names={family: frozenset(ids) for family, ids in concepts["families"].items()},
        presenter=_presenter(analytes_raw, _read_json("derivation.json")["display"], raw_units["display"]),
        reference_intervals=load_reference_intervals(
            _read_json("reference_intervals.json"), {a.name: a.canonical_unit for a in analytes.values()}
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
        verified, _ = _split_verified(value_set)
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
