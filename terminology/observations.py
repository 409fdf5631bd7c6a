"""Reading laboratory Observations (http://hl7.org/fhir/R4/observation.html) into ``LabResult``s.

Only results a clinician may act on are used: status final/amended/corrected, about the patient in
context, numeric ``valueQuantity`` in a unit we can convert and within the analyte's plausible range, with a
full effective date that is not in the future. Everything else becomes an ``Ignored`` with a stable reason;
a comparator (``<``, ``>``) is kept on the result, not dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from terminology.fhir_dates import ImpreciseDateError, parse_datetime
from terminology.fhir_json import JsonObject, as_list, first_text, period_start, status_code
from terminology.knowledge import Analyte, Knowledge
from terminology.snapshot import Ignored, LabResult
from terminology.units import UnitError, convert, resolve_unit, to_canonical

# R4 ObservationStatus: only these carry a result a clinician may act on.
USABLE_STATUS = frozenset({"final", "amended", "corrected"})
COMPARATORS = frozenset({"<", "<=", ">", ">="})


def _ignored(obs: JsonObject, reason: str, detail: str, analyte: str = "") -> Ignored:
    return Ignored("Observation", str(obs.get("id", "")), reason, detail, analyte)


def _analyte_of(obs: JsonObject, knowledge: Knowledge) -> tuple[str, JsonObject] | str:
    """(analyte, matching coding), or the reason code why there is none."""
    unverified = False
    concept = obs.get("code")
    found = concept.get("coding") if isinstance(concept, dict) else None
    for coding in found if isinstance(found, list) else ():
        if not isinstance(coding, dict):
            continue
        key = (str(coding.get("system", "")), str(coding.get("code", "")))
        analyte = knowledge.analyte_by_code.get(key)
        if analyte:
            return analyte, coding
        unverified = unverified or key in knowledge.unverified
    return "code-unverified" if unverified else "code-unknown"


def _effective_text(obs: JsonObject) -> str:
    usual = obs.get("effectiveDateTime")  # checked first on its own: almost every lab result has it
    if isinstance(usual, str) and usual:
        return usual
    return first_text(
        obs.get("effectiveDateTime"),
        obs.get("effectiveInstant"),
        period_start(obs.get("effectivePeriod")),
        obs.get("issued"),
    )


def _problem(obs: JsonObject, is_about_patient: bool, effective: str) -> tuple[str, str] | None:
    status = obs.get("status")
    if status not in USABLE_STATUS:
        return "status-unusable", f"status {status!r}"
    if not is_about_patient:
        return "subject-mismatch", "subject is not the patient in context"
    if "dataAbsentReason" in obs:
        return "data-absent", "dataAbsentReason is set"
    quantity = obs.get("valueQuantity")
    value = quantity.get("value") if isinstance(quantity, dict) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return "value-not-numeric", "no numeric valueQuantity"
    comparator = quantity.get("comparator") if isinstance(quantity, dict) else None
    if comparator is not None and not (isinstance(comparator, str) and comparator in COMPARATORS):
        return "value-comparator-invalid", f"comparator {comparator!r}"
    if not effective:
        return "date-missing", "no effective date"
    return None


def _range_bound(knowledge: Knowledge, analyte: Analyte, bound: Any, fallback_unit: str) -> float | None:
    """A reference range limit in the canonical unit; None when absent or not convertible."""
    if not isinstance(bound, dict) or not isinstance(bound.get("value"), int | float):
        return None
    try:
        unit = bound.get("code") or bound.get("unit") or fallback_unit
        return convert(
            knowledge, analyte, float(bound["value"]), bound.get("system"), unit, bound.get("unit")
        )
    except UnitError:
        return None


def _range(
    knowledge: Knowledge, analyte: Analyte, reference: JsonObject, unit: str
) -> tuple[float | None, float | None]:
    low = _range_bound(knowledge, analyte, reference.get("low"), unit)
    return low, _range_bound(knowledge, analyte, reference.get("high"), unit)


def read_lab(
    obs: JsonObject, knowledge: Knowledge, is_about_patient: bool, latest_allowed: datetime
) -> LabResult | Ignored:
    """The ``LabResult`` of one Observation, or why it cannot be used.

    A result dated after ``latest_allowed`` (now plus a small clock-skew tolerance) is not used: taken as
    the newest result it would hide the real one (a normal calcium dated 2999 beside yesterday's 15 mg/dL).
    """
    found = _analyte_of(obs, knowledge)
    if isinstance(found, str):
        return _ignored(obs, found, "no coding is a verified code of an analyte we read")
    name, coding = found
    effective_text = _effective_text(obs)
    problem = _problem(obs, is_about_patient, effective_text)
    if problem is not None:
        return _ignored(obs, *problem, analyte=name)
    analyte = knowledge.analytes[name]
    quantity: JsonObject = obs["valueQuantity"]
    reported = float(quantity["value"])
    try:
        effective = parse_datetime(effective_text)
        if effective > latest_allowed:
            return _ignored(
                obs, "date-in-future", f"dated in the future ({effective.date().isoformat()})", name
            )
        unit_text = quantity.get("unit")
        source = resolve_unit(knowledge, quantity.get("system"), quantity.get("code"), unit_text, analyte)
        value = to_canonical(knowledge, analyte, reported, source)
    except ImpreciseDateError as exc:
        return _ignored(obs, "date-imprecise", str(exc), name)
    except UnitError as exc:
        return _ignored(obs, exc.reason, str(exc), name)
    except ValueError as exc:
        return _ignored(obs, "date-invalid", str(exc), name)
    if not analyte.plausible(value):
        shown = unit_text if isinstance(unit_text, str) else source
        detail = implausible(knowledge, analyte, reported, shown, source, value)
        return _ignored(obs, "value-implausible", detail, name)
    ranges = obs.get("referenceRange")
    first_range = ranges[0] if isinstance(ranges, list) and ranges and isinstance(ranges[0], dict) else None
    low, high = _range(knowledge, analyte, first_range, source) if first_range else (None, None)
    interpretation = obs.get("interpretation")
    # Positional (field order of LabResult): keyword arguments cost measurably here, once per Observation.
    return LabResult(
        name,
        value,
        analyte.canonical_unit,
        reported,
        unit_text if isinstance(unit_text, str) else source,
        effective,
        str(obs.get("id", "")),
        str(coding.get("code")),
        str(coding.get("display") or coding.get("code")),
        quantity.get("comparator"),
        knowledge.alt_factors.get(name),
        analyte.alt_unit,
        low,
        high,
        _interpretation(interpretation) if interpretation else None,
    )


def implausible(
    knowledge: Knowledge, analyte: Analyte, reported: float, shown: str, source: str, value: float
) -> str:
    """Why ``value`` (canonical; ``reported`` in ``shown``) is not plausible, with the unit slip or factor of
    ten that would explain it, if any. The value is never rescaled: a hint only helps find the error.
    """
    low, high, unit = (
        analyte.plausible_low,
        analyte.plausible_high,
        knowledge.show_unit(analyte.canonical_unit),
    )
    text = f"{reported:g} {shown} is outside the plausible {low:g} to {high:g} {unit}"
    alt = analyte.alt_unit
    as_alt = knowledge.conversions.get((analyte.name, alt)) if alt and alt != source else None
    if alt and as_alt is not None and analyte.plausible(reported * as_alt):
        other = f"{reported:g} {knowledge.show_unit(alt)}"
        return f"{text}; {other} would be plausible: the unit may be wrong (not rescaled)"
    if analyte.plausible(value / 10) or analyte.plausible(value * 10):
        return f"{text}; a factor of ten would make it plausible (not rescaled)"
    return text


def _interpretation(interpretation: Any) -> str | None:
    return next((status_code(i) for i in as_list(interpretation) if status_code(i)), None)
