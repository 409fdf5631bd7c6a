"""Shared snapshot readers for the rules: recent results, evidence rows, missing workup, unused data."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from cards.finding import Evidence
from terminology.knowledge import Order
from terminology.presentation import clinical_display
from terminology.snapshot import ConditionRecord, LabResult, MedicationRecord, PatientSnapshot

INDICATORS = ("info", "warning", "critical")  # least to most severe


def recent(snapshot: PatientSnapshot, analyte: str, since: datetime) -> LabResult | None:
    """The latest result of ``analyte`` if it is not older than ``since``."""
    latest = snapshot.latest(analyte)
    return latest if latest is not None and latest.effective >= since else None


def lab_row(result: LabResult, note: str = "") -> Evidence:
    """A row for a reported or derived result (named and formatted by the renderer)."""
    if result.is_derived:
        reference = ", ".join(result.derived_from)
        return Evidence("", "", result.day.isoformat(), note or result.method, reference, lab=result)
    code = f"{result.code} {result.display}"
    return Evidence("", "", result.day.isoformat(), note, f"Observation/{result.resource_id}", code, result)


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
    day = record.onset or record.recorded
    status = record.clinical_status or "status not given"
    return Evidence(
        clinical_display(record.display),
        "diagnosis",
        day.isoformat() if day else "",
        status,
        f"Condition/{record.resource_id}",
        f"{record.system}|{record.code}",
    )


def medication_row(record: MedicationRecord) -> Evidence:
    route = {True: "IV", False: "not IV", None: "route not given"}[record.intravenous]
    when = record.when.date().isoformat() if record.when else ""
    basis = ", matched by name" if record.matched_by == "text" else ""
    return Evidence(
        record.display,
        record.status,
        when,
        f"{route}{basis}",
        f"{record.resource_type}/{record.resource_id}",
    )


BASIS_WORDS = {"measured": "measured eGFR", "derived": "eGFR from creatinine", "coded": "coded diagnosis"}


def kidney_rows(snapshot: PatientSnapshot) -> tuple[Evidence, ...]:
    """Rows for kidney failure: one row for dialysis (its newest record; the references of all in the
    provenance), else the CKD stage with the value it came from, its date and whether it was measured,
    derived or coded."""
    if snapshot.dialysis:
        newest = max(snapshot.dialysis, key=lambda d: d.day or date.min)
        return (
            Evidence(
                "On dialysis",
                newest.display,
                newest.day.isoformat() if newest.day else "",
                BASIS_WORDS["coded"] if newest.reference.startswith("Condition/") else "procedure",
                ", ".join(d.reference for d in snapshot.dialysis),
                newest.code,
            ),
        )
    ckd = snapshot.ckd
    if ckd is None:
        return ()
    shown = f"eGFR {ckd.value:.0f}" if ckd.value is not None else ckd.display
    day = ckd.day.isoformat() if ckd.day else ""
    return (Evidence(ckd.label, shown, day, BASIS_WORDS[ckd.basis], ckd.reference),)


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


def current_medications(
    snapshot: PatientSnapshot, category: str, since: datetime
) -> tuple[MedicationRecord, ...]:
    """Current systemic exposure to ``category``: active, or given or ordered since ``since``; a local route
    (topical, inhaled...) does not count."""
    return tuple(
        m
        for m in snapshot.medications_of(category)
        if not m.local and (m.status == "active" or (m.when is not None and m.when >= since))
    )


def drafts_of(drafts: Iterable[MedicationRecord], concepts: Iterable[str]) -> list[MedicationRecord]:
    """The draft orders that are one of ``concepts`` (each draft once, in order)."""
    wanted = set(concepts)
    return [d for d in drafts if d.categories & wanted]


def draft_reference(draft: MedicationRecord) -> str:
    return f"{draft.resource_type}/{draft.resource_id}"


def references(*results: LabResult | None) -> frozenset[str]:
    """The resources behind results (a derived value's inputs), for ``Finding.drivers``."""
    refs: set[str] = set()
    for result in results:
        if result is not None:
            refs.update(result.derived_from if result.is_derived else (f"Observation/{result.resource_id}",))
    return frozenset(refs)


def strongest(indicators: Iterable[str]) -> str:
    return max(indicators, key=INDICATORS.index)
