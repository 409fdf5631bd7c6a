"""Kidney function from what the chart says: the current CKD stage and whether the patient is on dialysis.

KDIGO 2012 (constants and sources in ``data/derivation.json``):

* a **measured** eGFR (reported, or computed from creatinine by CKD-EPI 2021) describes the current stage
  only while it is recent (``evidenceMaxAgeDays``: KDIGO asks for GFR at least yearly in CKD);
* with CKD on the problem list (chronicity established), the newest recent eGFR gives the G category; when
  the coded stage disagrees, the measured value is used and the staging says so;
* without a coded CKD, an eGFR below 60 sustained for at least 90 days within that window defines CKD;
* a coded stage is used alone when no recent eGFR exists (an active problem-list entry is current by
  assertion);
* dialysis: an active dialysis-status condition, or a dialysis procedure in the last 90 days (not later).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from terminology.knowledge import Knowledge
from terminology.presentation import clinical_display
from terminology.snapshot import ConditionRecord, DialysisEvidence, LabResult, ProcedureRecord, Staging


def egfr_category(value: float, categories: Mapping[str, Any]) -> tuple[int, str]:
    """(stage number, KDIGO G category) of an eGFR value (plausible values are >= 1, category G5 >= 0)."""
    for lower, stage, label in categories["lowerBounds"]:
        if value >= lower:
            return int(stage), str(label)
    raise ValueError("an eGFR below every category is not plausible")  # excluded when read


def _measured(result: LabResult, categories: Mapping[str, Any], notes: tuple[str, ...] = ()) -> Staging:
    stage, label = egfr_category(result.value, categories)
    reference = ", ".join(result.derived_from) if result.is_derived else f"Observation/{result.resource_id}"
    return Staging(
        stage=stage,
        label=f"CKD {label}",
        basis="derived" if result.is_derived else "measured",
        value=result.value,
        day=result.day,
        reference=reference,
        display=result.display,
        notes=notes,
    )


def _coded(record: ConditionRecord, stage: int) -> Staging:
    return Staging(
        stage=stage,
        label=f"CKD stage {stage}",
        basis="coded",
        value=None,
        day=record.recorded or record.onset,
        reference=f"Condition/{record.resource_id}",
        display=f"{record.code} {record.display}",
    )


def _sustained(recent: Sequence[LabResult], categories: Mapping[str, Any]) -> Staging | None:
    """CKD by eGFR alone: below 60 for at least 90 days, newest first, uninterrupted."""
    if not recent or recent[0].value >= categories["ckdBelow"]:
        return None
    run = [recent[0]]
    for result in recent[1:]:
        if result.value >= categories["ckdBelow"]:
            break
        run.append(result)
    if (run[0].effective - run[-1].effective).days < categories["chronicityDays"]:
        return None
    return _measured(run[0], categories)


def ckd_staging(
    conditions: Sequence[ConditionRecord], egfr: Sequence[LabResult], as_of: datetime, knowledge: Knowledge
) -> Staging | None:
    """The current CKD stage and what it rests on (None when the chart shows no CKD)."""
    categories = knowledge.derivation["egfrCategories"]
    since = as_of - timedelta(days=categories["evidenceMaxAgeDays"])
    recent = [r for r in egfr if r.comparator is None and r.effective >= since]
    coded = [
        (knowledge.ckd_stages[c], r)
        for r in conditions
        if r.present
        for c in r.concepts
        if c in knowledge.ckd_stages
    ]
    if not coded:
        return _sustained(recent, categories)
    stage, record = max(coded, key=lambda pair: pair[0])
    if not recent:
        return _coded(record, stage)
    newest = recent[0]
    measured_stage, label = egfr_category(newest.value, categories)
    if measured_stage == stage:
        return _measured(newest, categories)
    when = f", recorded {record.recorded.isoformat()}" if record.recorded else ""
    note = (
        f"coded CKD stage {stage} ({record.code} {record.display}{when}) is not used: the eGFR of "
        f"{newest.value:.0f} on {newest.day.isoformat()} ({label}) is newer evidence"
    )
    return _measured(newest, categories, (note,))


def dialysis_evidence(
    conditions: Sequence[ConditionRecord],
    procedures: Sequence[ProcedureRecord],
    as_of: datetime,
    knowledge: Knowledge,
) -> tuple[DialysisEvidence, ...]:
    """What shows the patient is on dialysis now (empty when nothing does)."""
    window = timedelta(days=knowledge.derivation["dialysisProcedureWindowDays"]["value"])
    evidence = [
        DialysisEvidence(
            f"Condition/{c.resource_id}",
            clinical_display(c.display) or c.code,
            c.recorded or c.onset,
            f"{c.system}|{c.code}",
        )
        for c in conditions
        if c.present and c.concepts & knowledge.dialysis_conditions
    ]
    evidence += [
        DialysisEvidence(
            f"Procedure/{p.resource_id}", clinical_display(p.display) or p.code, p.performed.date(), p.code
        )
        for p in procedures
        if p.concepts & knowledge.dialysis_procedures
        and p.performed is not None
        and timedelta(0) <= as_of - p.performed <= window
    ]
    return tuple(evidence)
