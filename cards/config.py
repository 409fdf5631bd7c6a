"""Typed access to the rule data under ``cards/data`` (thresholds with unit and citation, card text).

Loaded once at start-up and checked against the terminology: a threshold whose unit is not the canonical
unit of its analyte, or that cites an unknown reference, stops the service from starting.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from cards.data_files import Frozen, citations, read_data
from terminology.knowledge import Knowledge, Order
from terminology.presentation import Presenter
from terminology.reference_intervals import ReferenceIntervals
from terminology.snapshot import LabResult, PatientSnapshot


class Threshold(Frozen):
    """A number a rule compares against, with its unit and the reference that sets it.

    A fixed threshold has a ``value`` and a ``citation``. One with ``reference: "upper"`` is the upper
    limit of the patient's age- and sex-specific reference interval on the result's day
    (``terminology/data/reference_intervals.json``): :meth:`RuleConfig.limit` resolves it to a fixed one,
    with the band's value, citation and label.
    """

    value: float | None = None
    unit: str
    comparison: Literal[">", ">=", "<", "<="]
    analyte: str
    citation: str | None = None
    reference: Literal["upper"] | None = None
    band: str = "adults"

    @model_validator(mode="after")
    def _fixed_or_reference(self) -> Self:
        if (self.reference is None) == (self.value is None or self.citation is None):
            raise ValueError("a threshold has a value and a citation, or a reference interval, not both")
        return self

    @property
    def cited_value(self) -> float:
        """The value of a fixed (or resolved) threshold."""
        if self.value is None:
            raise ValueError("a reference-interval threshold must be resolved first (RuleConfig.limit)")
        return self.value

    @property
    def cited(self) -> str:
        """The citation key of a fixed (or resolved) threshold."""
        if self.citation is None:
            raise ValueError("a reference-interval threshold must be resolved first (RuleConfig.limit)")
        return self.citation

    def met_by(self, result: LabResult | float) -> bool:
        """Whether a value certainly meets the threshold; a bound (``>15``, ``<2``) counts only one way."""
        if self.value is None:
            raise ValueError("a reference-interval threshold must be resolved first (RuleConfig.limit)")
        low: float | None
        high: float | None
        if isinstance(result, float | int):
            low = high = float(result)
        else:
            low, high = result.lower_bound, result.upper_bound
        if self.comparison in (">", ">="):
            return low is not None and (low > self.value if self.comparison == ">" else low >= self.value)
        return high is not None and (high < self.value if self.comparison == "<" else high <= self.value)


class Duration(Frozen):
    value: int = Field(gt=0)
    unit: Literal["d"]
    citation: str

    @property
    def delta(self) -> timedelta:
        return timedelta(days=self.value)


class Grade(Frozen):
    indicator: Literal["info", "warning", "critical"]
    label: str
    rank: int


class RuleInfo(Frozen):
    id: str
    version: str
    title: str
    label: str
    topic_display: str = Field(alias="topicDisplay")


class RuleConfig(Frozen):
    """One pathway's data file: identity, windows, thresholds (unit + citation), grades, words, workup.

    ``orders`` is filled by :meth:`bind` from the terminology's order catalogue, so rules can name missing
    workup without knowing codes.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, arbitrary_types_allowed=True
    )

    rule: RuleInfo
    windows: dict[str, Duration] = Field(default_factory=dict)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    grades: dict[str, Grade] = Field(default_factory=dict)
    text: dict[str, str]
    workup: tuple[str, ...] = ()
    # orders suggested whenever the card fires, never a reason for it to fire (an imaging study we cannot see)
    also_suggest: tuple[str, ...] = Field(default=(), alias="alsoSuggest")
    concepts: tuple[str, ...] = ()
    exclude_concepts: tuple[str, ...] = Field(default=(), alias="excludeConcepts")
    concept_citations: dict[str, tuple[str, ...]] = Field(default_factory=dict, alias="conceptCitations")
    factor_citations: dict[str, tuple[str, ...]] = Field(default_factory=dict, alias="factorCitations")
    grade_citations: dict[str, tuple[str, ...]] = Field(default_factory=dict, alias="gradeCitations")
    background: tuple[str, ...] = ()
    medication_concepts: tuple[str, ...] = Field(default=(), alias="medicationConcepts")
    # role in the rule's code -> concept it reads (e.g. "diabetes" -> "diabetes-mellitus"): names in data
    concept_names: dict[str, str] = Field(default_factory=dict, alias="conceptNames")
    source: str = ""  # the data file, for start-up errors
    citations: tuple[str, ...]
    orders: tuple[Order, ...] = ()
    intervals: ReferenceIntervals | None = None
    presenter: Presenter | None = None

    def bind(self, knowledge: Knowledge) -> RuleConfig:
        """This config with its workup resolved to orders, the reference intervals attached, and its
        thresholds checked against the units."""
        unknown = {*self.workup, *self.also_suggest} - set(knowledge.orders)
        if unknown:
            raise ValueError(f"{self.source}: workup suggests unknown orders {sorted(unknown)}")
        self._check_concepts(knowledge)
        check_thresholds(self.thresholds, knowledge)
        orders = tuple(knowledge.orders[k] for k in self.workup)
        bound = {
            "orders": orders,
            "intervals": knowledge.reference_intervals,
            "presenter": knowledge.presenter,
        }
        return self.model_copy(update=bound)

    @property
    def present(self) -> Presenter:
        """How values are written in this rule's text (bound at start-up)."""
        assert self.presenter is not None  # noqa: S101 - bound at start-up (bind) before any evaluation
        return self.presenter

    def _check_concepts(self, knowledge: Knowledge) -> None:
        """Every concept the rule names exists in the terminology (a typo would silently never match)."""
        known = {name for names in knowledge.concept_names.values() for name in names}
        named = {
            "concepts": self.concepts,
            "excludeConcepts": self.exclude_concepts,
            "medicationConcepts": self.medication_concepts,
            "conceptCitations": tuple(self.concept_citations),
            "conceptNames": tuple(self.concept_names.values()),
        }
        for key, concepts in named.items():
            unknown = sorted(set(concepts) - known)
            if unknown:
                raise ValueError(f"{self.source}: {key} names unknown concepts {unknown}")

    def concept(self, role: str) -> str:
        """The concept this rule reads for ``role`` (``conceptNames``, checked at start-up)."""
        return self.concept_names[role]

    def meets(self, name: str, snapshot: PatientSnapshot, result: LabResult) -> bool:
        """Whether ``result`` certainly meets threshold ``name`` as it applies to this patient that day."""
        limit = self.limit(name, snapshot, result.day)
        return limit is not None and limit.met_by(result)

    def limit(self, name: str, snapshot: PatientSnapshot, day: date) -> Threshold | None:
        """Threshold ``name`` for this patient on ``day``: fixed as written, or the upper limit of the
        reference interval for the patient's age and sex (None when that band gives no upper limit)."""
        threshold = self.thresholds[name]
        if threshold.reference is None:
            return threshold
        assert self.intervals is not None  # noqa: S101 - bound at start-up (bind) before any evaluation
        interval = self.intervals.interval(threshold.analyte, snapshot.birth_date, snapshot.sex, day)
        if interval is None or interval.high is None:
            return None
        update = {
            "value": interval.high,
            "citation": interval.citation,
            "reference": None,
            "band": interval.label,
        }
        return threshold.model_copy(update=update)


@cache
def threshold_library() -> dict[str, dict[str, Any]]:
    """The named thresholds every rule shares (``data/thresholds.json``), ``of`` references resolved."""
    raw: dict[str, dict[str, Any]] = read_data("thresholds.json")["thresholds"]
    resolved = {}
    for key, spec in raw.items():
        if "of" in spec:
            base = raw.get(spec["of"])
            if base is None or "of" in base:
                raise ValueError(f"thresholds.json: {key}: 'of' names no direct threshold ({spec['of']!r})")
            spec = {**base, **{k: v for k, v in spec.items() if k != "of"}}
        resolved[key] = spec
    return resolved


def load_rule(
    name: str, *, windows: set[str], thresholds: set[str], text: set[str], grades: set[str]
) -> RuleConfig:
    """A pathway's ``data/<name>.json``, refusing it when a key the rule reads is missing; its thresholds
    are names in the shared library (``data/thresholds.json``)."""
    raw = dict(read_data(f"{name}.json"))
    library = threshold_library()
    unknown_thresholds = [key for key in raw.get("thresholds", []) if key not in library]
    if unknown_thresholds:
        raise ValueError(f"{name}.json: thresholds {unknown_thresholds} are not in thresholds.json")
    raw["thresholds"] = {key: library[key] for key in raw.get("thresholds", [])}
    config = RuleConfig.model_validate(raw).model_copy(update={"source": f"{name}.json"})
    for kind, wanted, present in (
        ("window", windows, config.windows),
        ("threshold", thresholds, config.thresholds),
        ("text", text, config.text),
        ("grade", grades, config.grades),
    ):
        missing = wanted - set(present)
        if missing:
            raise ValueError(f"{name}.json lacks {kind} {sorted(missing)}")
    cited = set(config.citations) | {
        key
        for group in (config.concept_citations, config.factor_citations, config.grade_citations)
        for keys in group.values()
        for key in keys
    }
    unknown = cited - set(citations())
    if unknown:
        raise ValueError(f"{name}.json cites unknown references {sorted(unknown)}")
    return config


def check_thresholds(thresholds: dict[str, Threshold], knowledge: Knowledge) -> None:
    """Refuse thresholds in a unit other than their analyte's canonical unit, with unknown citations, or
    naming a reference interval that does not exist or cites an unknown reference."""
    known = citations()
    unknown_bands = knowledge.reference_intervals.citations() - set(known)
    if unknown_bands:
        raise ValueError(f"reference_intervals.json cites unknown references {sorted(unknown_bands)}")
    for name, threshold in thresholds.items():
        if threshold.reference is not None:
            if knowledge.reference_intervals.interval(threshold.analyte, None, None, date.min) is None:
                raise ValueError(f"threshold {name}: no reference interval for {threshold.analyte}")
        elif threshold.citation not in known:
            raise ValueError(f"threshold {name} cites unknown reference {threshold.citation!r}")
        analyte = knowledge.analytes.get(threshold.analyte)
        if analyte is not None and analyte.canonical_unit != threshold.unit:
            raise ValueError(f"threshold {name} is in {threshold.unit}, not in {analyte.canonical_unit}")
