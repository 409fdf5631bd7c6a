"""The clinician's draft orders (CDS Hooks ``order-select`` / ``order-sign`` ``context.draftOrders``).

``draftOrders`` is a Bundle of draft resources (CDS Hooks library, hook version 1.0). The medication drafts
are read with the same value sets, text terms and routes as the chart's medications
(``terminology.clinical.read_medication``), so a clinical-drug code (RxNorm SCD/SBD) is recognised as it is in
the record. Drafts that match none of our medication concepts are left out (a statin draws nothing), and a
draft about another patient is never read. ServiceRequest and NutritionOrder drafts are not read yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from terminology.clinical import read_medication
from terminology.fhir_json import resources_in
from terminology.knowledge import Knowledge
from terminology.snapshot import MedicationRecord
from terminology.subjects import patient_references


def read_drafts(
    draft_orders: Mapping[str, Any],
    patient_id: str,
    knowledge: Knowledge,
    selected: frozenset[str] | None = None,
    fhir_server: str | None = None,
) -> tuple[MedicationRecord, ...]:
    """The medication drafts of ``draft_orders`` that match one of our medication concepts; with
    ``selected`` (``order-select``'s ``selections``, ``Type/id``), only those."""
    names = patient_references(patient_id, fhir_server, draft_orders)
    drafts = []
    for resource in resources_in(draft_orders):
        if resource.get("resourceType") != "MedicationRequest":
            continue
        if selected is not None and f"MedicationRequest/{resource.get('id')}" not in selected:
            continue
        if "subject" in resource and not names.names_patient(resource):
            continue
        record = read_medication(resource, knowledge)
        if isinstance(record, MedicationRecord):
            drafts.append(record)
    return tuple(drafts)
