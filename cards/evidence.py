"""Shared snapshot readers for the rules: recent results, evidence rows, missing workup, unused data."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cards.finding import Evidence
from terminology.knowledge import Order
from terminology.snapshot import ConditionRecord, LabResult, MedicationRecord, PatientSnapshot

INDICATORS = ("info", "warning", "critical")  # least to most severe


def recent(snapshot: PatientSnapshot, analyte: str, since: datetime) -> LabResult | None:
    """The latest result of ``analyte`` if it is not older than ``since``."""
    latest = snapshot.latest(analyte)
    return latest if latest is not None and latest.effective >= since else None


def _bound(result: LabResult) -> str:
    return f"{result.comparator} " if result.comparator else ""


def lab_row(result: LabResult) -> Evidence:
    """An evidence row for a reported or derived result."""
    canonical = f"{_bound(result)}{result.value:.4g} {result.unit}"
    if result.alt_value is not None and result.alt_unit:
        canonical += f" ({result.alt_value:.4g} {result.alt_unit})"
    if result.is_derived:
        return Evidence(
            result.method, "", canonical, result.day.isoformat(), "derived", ", ".join(result.derived_from)
        )
    return Evidence(
        item=f"{result.display} ({result.code})",
        reported=f"{_bound(result)}{result.reported_value:g} {result.reported_unit}",
        canonical=canonical,
        date=result.day.isoformat(),
        source=f"Observation/{result.resource_id}",
    )


def lab_rows(snapshot: PatientSnapshot, result: LabResult) -> list[Evidence]:
    """The row of ``result`` and, for a derived value, the rows of the measured results it came from."""
    if not result.is_derived:
        return [lab_row(result)]
    wanted = {ref.removeprefix("Observation/") for ref in result.derived_from}
    inputs = [
        r for series in snapshot.labs.values() for r in series if not r.is_derived and r.resource_id in wanted
    ]
    return [lab_row(result), *(lab_row(r) for r in inputs)]


def cited(*groups: Iterable[str]) -> tuple[str, ...]:
    """Citation keys in first-seen order, without repeats."""
    return tuple(dict.fromkeys(key for group in groups for key in group))


def condition_row(record: ConditionRecord) -> Evidence:
    status = record.clinical_status or "status not given"
    day = record.onset or record.recorded
    when = day.isoformat() if day else ""
    return Evidence(f"{record.display} ({record.code})", status, "", when, f"Condition/{record.resource_id}")


def medication_row(record: MedicationRecord) -> Evidence:
    route = {True: "intravenous", False: "not intravenous", None: "route not given"}[record.intravenous]
    when = record.when.date().isoformat() if record.when else ""
    basis = "matched by name" if record.matched_by == "text" else "matched by code"
    return Evidence(
        record.display,
        f"{record.status}, {route}",
        basis,
        when,
        f"{record.resource_type}/{record.resource_id}",
    )


BASIS_WORDS = {"measured": "measured eGFR", "derived": "eGFR from creatinine", "coded": "coded diagnosis"}


def kidney_rows(snapshot: PatientSnapshot) -> tuple[Evidence, ...]:
    """Evidence rows for kidney failure: the dialysis evidence, else the CKD stage with the value it came
    from, its date and whether it was measured, derived or coded."""
    if snapshot.dialysis:
        return tuple(
            Evidence(
                "On dialysis",
                d.display,
                BASIS_WORDS["coded"] if d.reference.startswith("Condition/") else "procedure",
                d.day.isoformat() if d.day else "",
                d.reference,
            )
            for d in snapshot.dialysis
        )
    ckd = snapshot.ckd
    if ckd is None:
        return ()
    shown = f"eGFR {ckd.value:.0f}" if ckd.value is not None else ckd.display
    day = ckd.day.isoformat() if ckd.day else ""
    return (Evidence(ckd.label, shown, BASIS_WORDS[ckd.basis], day, ckd.reference),)


def missing_orders(snapshot: PatientSnapshot, orders: Iterable[Order], since: datetime) -> tuple[str, ...]:
    """Keys of ``orders`` whose analytes have no result since ``since`` (orders with no analyte are kept)."""
    return tuple(
        order.key
        for order in orders
        if not order.analytes or not any(recent(snapshot, analyte, since) for analyte in order.analytes)
    )


def ordered_analytes(orders: Iterable[Order]) -> tuple[str, ...]:
    """The analytes a rule reads through the workup it checks (each order's results)."""
    return tuple(dict.fromkeys(analyte for order in orders for analyte in order.analytes))


def not_used(snapshot: PatientSnapshot, analytes: Iterable[str]) -> tuple[str, ...]:
    """Lines for the card's "data present but not used" section, for the analytes a rule reads.

    Every rule lists the analytes it reads (its thresholds' and its workup's), so a value that could not
    be used (no unit, implausible, dated in the future...) is shown on every card it could have changed.
    """
    wanted = set(analytes)
    lines = tuple(
        f"{i.resource_type}/{i.resource_id}: {i.detail} ({i.reason})"
        for i in snapshot.ignored
        if i.analyte in wanted
    )
    staging_notes = snapshot.ckd.notes if snapshot.ckd and "egfr" in wanted else ()
    return (*staging_notes, *lines)


def strongest(indicators: Iterable[str]) -> str:
    return max(indicators, key=INDICATORS.index)
