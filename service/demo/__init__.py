"""Synthetic demo patients for the developer sandbox (``load-demo``, ``check``, ``/preview``).

Each patient is an R4 transaction Bundle of PUTs with stable ids (``patients/<id>.json``); dates are written
as ``{{daysAgo N}}`` / ``{{yearsAgo N}}`` and computed when a bundle is rendered, so cards stay current.
``catalog.json`` says what each patient represents and which cards it should produce (a test checks).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

RELATIVE = re.compile(r"\{\{(daysAgo|yearsAgo) (\d+(?:\.\d+)?)\}\}")
DAYS_PER_YEAR = 365.25
# Prefetch key of each resource type, as an EHR running our templates would fill them.
PREFETCH_KEYS = {
    "Patient": "patient",
    "Observation": "labs",
    "Condition": "conditions",
    "MedicationRequest": "medicationRequests",
    "MedicationAdministration": "medicationAdministrations",
    "Procedure": "procedures",
}


@dataclass(frozen=True, slots=True)
class DemoPatient:
    id: str
    title: str
    description: str
    expected_cards: tuple[tuple[str, str], ...]  # (rule id, indicator), in card order


@cache
def demo_patients() -> tuple[DemoPatient, ...]:
    catalog = json.loads(resources.files("service.demo").joinpath("catalog.json").read_text(encoding="utf-8"))
    return tuple(
        DemoPatient(
            p["id"],
            p["title"],
            p["description"],
            tuple((c["rule"], c["indicator"]) for c in p["expectedCards"]),
        )
        for p in catalog["patients"]
    )


def _when(match: re.Match[str], now: datetime) -> str:
    unit, amount = match.group(1), float(match.group(2))
    if unit == "yearsAgo":
        return (now - timedelta(days=amount * DAYS_PER_YEAR)).date().isoformat()
    return (now - timedelta(days=amount)).isoformat(timespec="seconds")


def bundle(patient_id: str, now: datetime) -> dict[str, Any]:
    """The transaction Bundle of ``patient_id`` with its dates computed relative to ``now``."""
    if patient_id not in {p.id for p in demo_patients()}:
        raise KeyError(f"no demo patient {patient_id!r}")
    raw = (
        resources.files("service.demo").joinpath("patients", f"{patient_id}.json").read_text(encoding="utf-8")
    )
    rendered: dict[str, Any] = json.loads(RELATIVE.sub(lambda m: _when(m, now), raw))
    return rendered


def prefetch(transaction: dict[str, Any]) -> dict[str, Any]:
    """The prefetch an EHR would send for this patient: the Patient, and a searchset Bundle per other key."""
    values: dict[str, Any] = {
        key: {"resourceType": "Bundle", "type": "searchset", "entry": []} for key in PREFETCH_KEYS.values()
    }
    for entry in transaction["entry"]:
        resource = entry["resource"]
        key = PREFETCH_KEYS[resource["resourceType"]]
        if key == "patient":
            values[key] = resource
        else:
            values[key]["entry"].append({"resource": resource, "search": {"mode": "match"}})
    return values
