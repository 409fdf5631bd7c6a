"""Adding a pathway touches one rule module (with its data file) and one data entry; adding a hook, one
context model and one table entry (issue 15). The example extension in ``tests/extension_example`` is
plugged in exactly where the product's files would be, and the real app, over HTTP, announces and answers it.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import Field

from cards import catalog, config, data_files
from service.api import hooks
from service.api.hooks import Hook, HookContext, hook_call
from service.settings import Settings
from tests import fhir_data as fd
from tests.extension_example import discharge_calcium
from tests.servers import RunningService

EXAMPLE = Path(__file__).parent / "extension_example"
SERVICE = {
    "id": "calcinosis-discharge-check",
    "hook": "encounter-discharge",
    "title": "Calcium at discharge (example)",
    "description": "Example: a high calcium during the stay, at discharge.",
    "usageRequirements": "Example only.",
    "prefetch": ["patient", "labs"],
    "pathways": ["discharge_calcium"],
}


class EncounterDischargeContext(HookContext):
    """encounter-discharge (CDS Hooks library): the encounter is required."""

    encounterId: str = Field(min_length=1)  # noqa: N815 - spec field name


@pytest.fixture
def extended(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example plugged in: ``cards.discharge_calcium`` with its data file, its service entry, the hook."""
    original = data_files.read_data

    def read(name: str) -> Any:
        if name == "discharge_calcium.json":
            return json.loads((EXAMPLE / name).read_text(encoding="utf-8"))
        data = copy.deepcopy(original(name))
        if name == "service.json":
            data["services"].append(SERVICE)
        return data

    for module in (data_files, config, catalog):
        monkeypatch.setattr(module, "read_data", read)
    monkeypatch.setitem(sys.modules, "cards.discharge_calcium", discharge_calcium)
    monkeypatch.setitem(
        hooks.HOOKS, "encounter-discharge", Hook("encounter-discharge", EncounterDischargeContext)
    )
    discharge_calcium.load_config.cache_clear()
    yield
    discharge_calcium.load_config.cache_clear()


def test_a_new_hook_and_pathway_are_announced_and_answered(extended: None, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cds.db'}")
    pid = "p-discharge"
    labs = [fd.lab(fd.CALCIUM_MASS, 11.2, "mg/dL", pid=pid, days_ago=3)]
    prefetch = {"patient": fd.patient(pid), "labs": fd.bundle(labs)}
    body = hook_call("encounter-discharge", pid, user="Practitioner/x", prefetch=prefetch)
    with RunningService(settings) as service, httpx.Client(timeout=30) as client:
        listed = client.get(f"{service.url}/cds-services").json()["services"]
        schemas = client.get(f"{service.url}/openapi.json").json()["components"]["schemas"]
        without_encounter = client.post(f"{service.url}/cds-services/calcinosis-discharge-check", json=body)
        body["context"]["encounterId"] = "enc-1"
        answered = client.post(f"{service.url}/cds-services/calcinosis-discharge-check", json=body)
    assert ("calcinosis-discharge-check", "encounter-discharge") in [(s["id"], s["hook"]) for s in listed]
    assert "EncounterDischargeRequest" in schemas
    assert without_encounter.status_code == 400
    assert without_encounter.json()["issue"][0]["expression"] == ["context.encounterId"]
    assert answered.status_code == 200, answered.text
    [card] = answered.json()["cards"]
    assert card["summary"] == "Calcium was high during the stay: plan a recheck after discharge"
    assert card["source"]["topic"]["code"] == "discharge-calcium-recheck"


def test_the_same_data_without_the_example_does_not_know_the_hook() -> None:
    assert "encounter-discharge" not in hooks.HOOKS
    assert "calcinosis-discharge-check" not in [
        s["id"] for s in data_files.read_data("service.json")["services"]
    ]
