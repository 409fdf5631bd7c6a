"""Derived values, each labelled as derived with the inputs it came from (constants in data/derivation.json).

* albumin-corrected calcium (Payne 1973): Ca + 0.8 x (4.0 - albumin g/dL), only with an albumin from the
  same day (configurable window) and never for a day that has a measured ionized calcium;
* the calcium x phosphate product from same-day values (corrected calcium preferred);
* eGFR by CKD-EPI 2021 (race-free, adults only) for creatinine days with no reported eGFR;
* (the CKD stage and dialysis are read in ``terminology.kidney``).

Inputs are plausible by construction (``terminology.observations`` refuses values outside each analyte's
plausible range, e.g. a creatinine of 0 that the eGFR formula would divide by), so every derivation is total.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from terminology.snapshot import Ignored, LabResult, age_on

CORRECTED = "calcium-albumin-corrected"
PRODUCT = "calcium-phosphate-product"
PRODUCT_UNIT = "mg2/dL2"
COMPUTED_EGFR = "egfr"
DECIMALS = 4


def _exact(result: LabResult) -> bool:
    return result.comparator is None


def _by_day(results: tuple[LabResult, ...]) -> dict[date, LabResult]:
    """The latest exact result of each day (``results`` are newest first)."""
    days: dict[date, LabResult] = {}
    for result in results:
        if _exact(result):
            days.setdefault(result.day, result)
    return days


def _sources(*inputs: LabResult) -> tuple[str, ...]:
    """Resource references a derived value rests on (a derived input contributes its own sources)."""
    refs: list[str] = []
    for result in inputs:
        refs.extend(result.derived_from if result.is_derived else (f"Observation/{result.resource_id}",))
    return tuple(refs)


def _derived(
    analyte: str, value: float, unit: str, when: datetime, sources: tuple[str, ...], method: str
) -> LabResult:
    rounded = round(value, DECIMALS)
    return LabResult(
        analyte=analyte,
        value=rounded,
        unit=unit,
        reported_value=rounded,
        reported_unit=unit,
        effective=when,
        resource_id="",
        code="",
        display=method,
        derived_from=sources,
        method=method,
    )


def corrected_calcium(
    labs: Mapping[str, tuple[LabResult, ...]], constants: Mapping[str, Any]
) -> list[LabResult]:
    """Payne-corrected calcium for each exact total calcium with a same-window albumin and no ionized Ca."""
    albumin = _by_day(labs.get("albumin", ()))
    ionized_days = {r.day for r in labs.get("calcium-ionized", ())}
    # Nearest day first: same day, then 1 day either side, ... up to the window (dict lookups, no scan).
    offsets = [
        timedelta(days=d * sign) for d in range(constants["albuminWindowDays"] + 1) for sign in (1, -1)
    ]
    results = []
    for calcium in labs.get("calcium-total", ()):
        if not _exact(calcium) or calcium.day in ionized_days:
            continue
        alb = next((albumin[calcium.day + o] for o in offsets if calcium.day + o in albumin), None)
        if alb is None:
            continue
        value = calcium.value + constants["albuminFactor"] * (constants["normalAlbuminGPerDl"] - alb.value)
        method = "Payne 1973"
        results.append(
            _derived(CORRECTED, value, calcium.unit, calcium.effective, _sources(calcium, alb), method)
        )
    return results


def calcium_phosphate_product(labs: Mapping[str, tuple[LabResult, ...]]) -> list[LabResult]:
    """Ca x P (mg2/dL2) for each day with both; corrected calcium preferred over total."""
    corrected = _by_day(labs.get(CORRECTED, ()))
    total = _by_day(labs.get("calcium-total", ()))
    results = []
    for day, phosphate in _by_day(labs.get("phosphate", ())).items():
        calcium = corrected.get(day) or total.get(day)
        if calcium is None:
            continue
        when = max(calcium.effective, phosphate.effective)
        value = calcium.value * phosphate.value
        results.append(
            _derived(
                PRODUCT,
                value,
                PRODUCT_UNIT,
                when,
                _sources(calcium, phosphate),
                "Ca × P",
            )
        )
    return results


def ckd_epi_2021(creatinine_mg_dl: float, age: int, female: bool, c: Mapping[str, Any]) -> float:
    """eGFR (mL/min/1.73 m2) by the race-free CKD-EPI 2021 creatinine equation."""
    kappa = c["kappaFemale"] if female else c["kappaMale"]
    alpha = c["alphaFemale"] if female else c["alphaMale"]
    ratio = creatinine_mg_dl / kappa
    value = (
        c["intercept"] * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** c["highExponent"] * c["ageBase"] ** age
    )
    return float(value * (c["femaleFactor"] if female else 1.0))


def computed_egfr(
    labs: Mapping[str, tuple[LabResult, ...]], birth: date | None, sex: str | None, c: Mapping[str, Any]
) -> tuple[list[LabResult], list[Ignored]]:
    """CKD-EPI 2021 eGFR for creatinine days without a reported eGFR, and why others could not be derived."""
    reported_days = {r.day for r in labs.get("egfr", ())}
    results: list[LabResult] = []
    ignored: list[Ignored] = []
    for day, creatinine in _by_day(labs.get("creatinine", ())).items():
        if day in reported_days:
            continue
        reason = None
        if sex not in ("female", "male"):
            reason = "administrative sex is not female or male"
        elif birth is None:
            reason = "birth date unknown"
        elif age_on(birth, day) < c["minAgeYears"]:
            reason = "CKD-EPI 2021 is for adults"
        if reason or birth is None:
            ignored.append(
                Ignored(
                    "Observation", creatinine.resource_id, "egfr-not-derivable", reason or "", "creatinine"
                )
            )
            continue
        value = ckd_epi_2021(creatinine.value, age_on(birth, day), sex == "female", c)
        method = "CKD-EPI 2021"
        results.append(
            _derived(
                COMPUTED_EGFR, value, "mL/min/{1.73_m2}", creatinine.effective, _sources(creatinine), method
            )
        )
    return results, ignored
