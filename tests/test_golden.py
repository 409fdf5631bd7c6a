"""Golden scenarios: ``tests/golden/<scenario>.request.json`` -> ``<scenario>.response.json``.

Each request is answered in-process exactly as ``POST /cds-services/{id}`` does
(``service.api.call.call_hook`` with the app's dependencies), but without HTTP and with a fixed clock
(:data:`NOW`, stated in ``tests/golden/README.md``). Card and suggestion uuids are normalised to
``"<uuid>"`` before comparing.

Regenerate the responses with ``GOLDEN_UPDATE=1 .venv/bin/python -m pytest tests/test_golden.py`` and read
every changed response before keeping it: :data:`EXPECTED_CARDS` pins the clinical outcome of each scenario
independently of the response files, so a blind regeneration cannot hide a changed decision.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cards.catalog import ServiceDeclaration, declared_services
from cards.render import PROVENANCE
from service.api.app import card_history
from service.api.call import HookDeps, call_hook
from service.api.registry import Registry
from service.api.sendable import card_problems
from service.fhir.outbound import Allowlist
from service.fhir.resolve import FetchDeps
from service.metrics import Metrics
from service.settings import Environment, Settings
from service.store.engine import create_engine
from service.store.repository import Store
from service.store.schema import ensure_schema
from terminology.knowledge import load_knowledge
from terminology.subjects import patient_references

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
UUID = "<uuid>"
UPDATE = os.environ.get("GOLDEN_UPDATE") == "1"
SCENARIOS = sorted(p.name.removesuffix(".request.json") for p in GOLDEN.glob("*.request.json"))
LOINC = "http://loinc.org"
TOPICS = "http://calcinosis-cds.example.org/fhir/CodeSystem/rule"
FHIR_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$")
DATE_FIELDS = {"effectiveDateTime", "authoredOn", "performedDateTime", "onsetDateTime", "birthDate"}

# The clinical outcome of every scenario, independent of the response files: for each card in order,
# (rule topic code, indicator, the suggested orders by LOINC code or, for text-only orders, their text).
METASTATIC, CALCIPHYLAXIS = "metastatic-calcification", "calciphylaxis-risk"
DYSTROPHIC, IATROGENIC = "dystrophic-calcinosis-ctd", "iatrogenic-calcinosis"
TUMORAL, KNOWN, MISSING = "tumoral-calcinosis-pattern", "known-calcinosis-workup", "missing-calcium-phosphate"
CA, ALB, P, CREAT, PTH = "17861-6", "1751-7", "2777-1", "2160-0", "2731-8"
VIT_D = "25-hydroxyvitamin D, total (D2 + D3), serum"
FGF23 = "54390-0"
WARFARIN, CALCIUM_LOAD = "order-warfarin-calciphylaxis", "order-calcium-hypercalcemia"
PHOSPHATE_LOAD, IV_CALCIUM_SITE = "order-phosphate-load", "order-iv-calcium-site"
IMAGING = "Plain radiograph of the suspected calcinosis site"
ExpectedCard = tuple[str, str, tuple[str, ...]]
EXPECTED_CARDS: dict[str, list[ExpectedCard]] = {
    "normal-patient": [],
    "hypercalcemia-conventional": [(METASTATIC, "warning", (ALB, P, CREAT, PTH, VIT_D))],
    "hypercalcemia-si": [(METASTATIC, "warning", (ALB, P, CREAT, PTH, VIT_D))],
    "low-albumin-corrected-hypercalcemia": [(METASTATIC, "info", (PTH, VIT_D))],
    "normal-albumin-no-correction": [],
    "stale-abnormal-superseded": [],
    "refuted-diagnosis": [],
    "entered-in-error-lab": [],
    "severe-hypercalcemia-critical": [(METASTATIC, "critical", (VIT_D,))],
    "ionized-hypercalcemia": [(METASTATIC, "info", (ALB, CREAT, PTH, VIT_D))],
    "hyperphosphatemia-ckd-product": [(METASTATIC, "warning", ())],
    # one value (the phosphate) drives one warning: the metastatic card is folded into calciphylaxis'
    "calciphylaxis-dialysis-risk-factors": [(CALCIPHYLAXIS, "warning", (VIT_D,))],
    "dialysis-no-risk-factors": [(MISSING, "info", (P,))],
    # a topical corticosteroid is a local, not a systemic, exposure: no calciphylaxis factor
    "dialysis-topical-steroid": [],
    "hypercalcemia-with-unused-data": [(METASTATIC, "warning", (P, CREAT, PTH, VIT_D))],
    "sarcoidosis-hypercalcemia": [(METASTATIC, "info", (VIT_D,))],
    # nothing to do: calcium and phosphate are checked and the diagnosis is years old (issue 13)
    "crest-normal-labs": [],
    "crest-new-diagnosis": [(DYSTROPHIC, "info", ())],
    "juvenile-dermatomyositis": [(DYSTROPHIC, "info", (CA, P))],
    "sle-with-hypercalcemia": [(METASTATIC, "info", (P, PTH, VIT_D))],
    "iv-calcium-extravasation": [(IATROGENIC, "info", ())],
    "iv-calcium-old-or-oral": [],
    "tumoral-pattern": [(TUMORAL, "info", (FGF23,))],
    "high-phosphate-low-egfr": [(METASTATIC, "info", ())],
    "known-calcinosis-no-workup": [(KNOWN, "info", (CA, ALB, P, CREAT, PTH, VIT_D, IMAGING))],
    "known-calcinosis-worked-up": [],
    "dialysis-no-labs": [(MISSING, "info", (CA, P))],
    # Synthea: blood calcium 12.6 through a urn:uuid subject; eGFR 67 "mL/min" read (no CKD staged)
    "synthea-shaped-record": [(METASTATIC, "warning", (ALB, P, PTH, VIT_D))],
    # the sandbox's pages, complete (total = entries): P 5.3 on dialysis is a calciphylaxis factor; the
    # metastatic note on the same phosphate is folded into that card (with its vitamin D suggestion)
    "sandbox-shaped-prefetch": [(CALCIPHYLAXIS, "warning", (PTH, VIT_D))],
    # the order hooks (tests/order_scenarios.py): each draft rule speaks, and the drafts that must not
    "order-sign-warfarin-dialysis-risk-factors": [
        (WARFARIN, "warning", ("delete MedicationRequest/draft-warfarin",))
    ],
    "order-sign-warfarin-no-risk-factors": [],
    "order-sign-statin-dialysis": [],
    "order-select-warfarin": [(WARFARIN, "warning", ("delete MedicationRequest/draft-warfarin",))],
    "order-select-statin-beside-warfarin": [],
    "order-sign-calcium-moderate-hypercalcemia": [
        (CALCIUM_LOAD, "warning", ("delete MedicationRequest/draft-calcium",))
    ],
    "order-sign-calcitriol-mild-hypercalcemia": [
        (CALCIUM_LOAD, "info", ("delete MedicationRequest/draft-calcitriol",))
    ],
    "order-sign-calcium-normal-calcium": [],
    "order-sign-phosphate-ckd4": [(PHOSPHATE_LOAD, "warning", ("delete MedicationRequest/draft-phosphate",))],
    "order-sign-phosphate-ckd3": [],
    "order-sign-iv-calcium-gluconate": [(IV_CALCIUM_SITE, "info", ())],
    # the hook library's own examples: amoxicillin and a pureed diet are nothing to us
    "order-sign-hook-library-example": [],
    "order-select-hook-library-example": [],
}


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a golden request must not cause a FHIR fetch: {request.method} {request.url}")


@cache
def registry() -> Registry:
    return Registry(declared_services(load_knowledge()))


def declaration(hook: str) -> ServiceDeclaration:
    """The service on ``hook`` that the route would dispatch to (one per hook in the shipped data)."""
    [service_id] = [i for i, h in registry().hooks.items() if h == hook]
    found = registry().get(service_id)
    assert found is not None
    return found


# Card history of the in-process calls (fresh per test run; goldens never get feedback, so no suppression).
HISTORY_DB = Path(tempfile.mkdtemp(prefix="golden-history-")) / "history.db"


def answer(raw: bytes) -> dict[str, Any]:
    """The hook's response body for ``raw``, as the route computes it, with the clock fixed at NOW."""

    async def call() -> dict[str, Any]:
        settings = Settings(environment=Environment.DEVELOPMENT, fhir_server_allowlist=[])
        engine = create_engine(f"sqlite:///{HISTORY_DB}")
        try:
            await ensure_schema(engine, auto_migrate=True)
            metrics = Metrics()
            store = Store(engine, settings.hash_key())
            writer, _, history = await card_history(store, metrics, settings, lambda: NOW)
            async with httpx.AsyncClient(
                transport=httpx.MockTransport(_refuse), follow_redirects=False
            ) as http:
                deps = HookDeps(
                    FetchDeps(
                        settings, Allowlist.from_entries(settings.fhir_server_allowlist), http, metrics
                    ),
                    load_knowledge(),
                    lambda: NOW,
                    history,
                )
                writer.start()
                try:
                    return await call_hook(declaration(json.loads(raw)["hook"]), raw, deps)
                finally:
                    await writer.stop(settings.history_drain_timeout_s)
        finally:
            await engine.dispose()

    return asyncio.run(call())


def normalise(response: dict[str, Any]) -> dict[str, Any]:
    """A copy with every card and suggestion uuid replaced by ``"<uuid>"`` (after checking they are uuids)."""
    copy: dict[str, Any] = json.loads(json.dumps(response))
    seen: list[str] = []
    for card in copy["cards"]:
        for item in (card, *card.get("suggestions", [])):
            seen.append(str(uuid.UUID(item["uuid"])))
            item["uuid"] = UUID
    assert len(seen) == len(set(seen)), "uuids must be unique within a response"
    return copy


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def request_of(scenario: str) -> dict[str, Any]:
    request: dict[str, Any] = load(GOLDEN / f"{scenario}.request.json")
    return request


def response_of(scenario: str) -> dict[str, Any]:
    response: dict[str, Any] = load(GOLDEN / f"{scenario}.response.json")
    return response


def suggested(card: dict[str, Any]) -> tuple[str, ...]:
    """What a card suggests: each ServiceRequest's LOINC code, or its text when it has no coding; a
    draft's removal as ``delete <Type/id>``."""
    out = []
    for suggestion in card.get("suggestions", []):
        for action in suggestion["actions"]:
            if action["type"] == "delete":
                out.append(f"delete {action['resourceId']}")
                continue
            code = action["resource"]["code"]
            loinc = [c["code"] for c in code.get("coding", []) if c["system"] == LOINC]
            out.append(loinc[0] if loinc else code["text"])
    return tuple(out)


def outline(response: dict[str, Any]) -> list[ExpectedCard]:
    return [(c["source"]["topic"]["code"], c["indicator"], suggested(c)) for c in response["cards"]]


# --- the scenarios -------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden_scenario(scenario: str) -> None:
    actual = normalise(answer((GOLDEN / f"{scenario}.request.json").read_bytes()))
    response_path = GOLDEN / f"{scenario}.response.json"
    if UPDATE:
        response_path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert actual == load(response_path), scenario


def test_every_scenario_is_listed_with_its_expected_cards_and_documented() -> None:
    assert sorted(EXPECTED_CARDS) == SCENARIOS
    assert sorted(p.name.removesuffix(".response.json") for p in GOLDEN.glob("*.response.json")) == SCENARIOS
    readme = (GOLDEN / "README.md").read_text(encoding="utf-8")
    undocumented = [s for s in SCENARIOS if f"`{s}`" not in readme]
    assert undocumented == []
    assert NOW.isoformat().replace("+00:00", "Z") in readme


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden_response_has_the_expected_clinical_outcome(scenario: str) -> None:
    assert outline(response_of(scenario)) == EXPECTED_CARDS[scenario]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden_request_has_full_prefetch_stable_ids_and_absolute_dates(scenario: str) -> None:
    request = request_of(scenario)
    patient_id = request["context"]["patientId"]
    prefetch = request["prefetch"]
    assert set(prefetch) == set(declaration(request["hook"]).prefetch)
    assert prefetch["patient"] == {**prefetch["patient"], "resourceType": "Patient", "id": patient_id}
    for key, value in prefetch.items():
        if key != "patient" and value is not None:
            assert value["resourceType"] == "Bundle", key
            # Each resource names the patient in one of the three forms terminology.subjects accepts.
            names = patient_references(patient_id, request.get("fhirServer"), value)
            for entry in value["entry"]:
                resource = entry["resource"]
                assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", resource["id"]), resource
                assert resource.get("id") == patient_id or names.names_patient(resource), resource
    dates = list(_dated_values(prefetch))
    assert dates
    assert all(FHIR_DATETIME.match(d) for d in dates), dates


def _dated_values(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in DATE_FIELDS and isinstance(v, str)]
        return found + [d for v in value.values() for d in _dated_values(v)]
    if isinstance(value, list):
        return [d for v in value for d in _dated_values(v)]
    return []


def test_hypercalcemia_in_both_unit_systems_gives_the_same_card() -> None:
    """Identical cards, detail included (both units are shown); only the code as sent, in the provenance
    extension, differs."""
    conventional = response_of("hypercalcemia-conventional")
    si = response_of("hypercalcemia-si")
    assert len(conventional["cards"]) == len(si["cards"]) == 1
    left, right = conventional["cards"][0], si["cards"][0]
    assert {k: v for k, v in left.items() if k != "extension"} == {
        k: v for k, v in right.items() if k != "extension"
    }
    rows = [card["extension"][PROVENANCE]["evidence"] for card in (left, right)]
    codes = [[row.get("code", "") for row in side] for side in rows]
    assert [c.split()[0] for c in codes[0] if c] == ["17861-6"]
    assert [c.split()[0] for c in codes[1] if c] == ["2000-8"]


def test_the_same_request_gives_the_same_response() -> None:
    raw = (GOLDEN / "calciphylaxis-dialysis-risk-factors.request.json").read_bytes()
    assert normalise(answer(raw)) == normalise(answer(raw))


# --- structural checks on every golden card ------------------------------------------------------------


def cards_of(scenario: str) -> list[dict[str, Any]]:
    cards: list[dict[str, Any]] = response_of(scenario)["cards"]
    return cards


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden_cards_pass_the_cds_hooks_structural_check(scenario: str) -> None:
    for index, card in enumerate(cards_of(scenario)):
        assert card_problems(card) == [], index
        assert card["source"]["topic"]["system"] == TOPICS
        assert card["source"]["url"].startswith("https://")
        assert card["links"]
        assert all(r["code"] and r["display"] for r in card["overrideReasons"])
        if card.get("suggestions"):
            assert card["selectionBehavior"] == "any"


UCUM_SYNTAX = re.compile(r"\{1\.73|mg2/dL2|\[IU\]|10\*3|/\{")
DETAIL_LIMIT = 1500  # issue 13: a card is read in seconds in a narrow panel


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden_cards_read_at_a_glance(scenario: str) -> None:
    """Short details, human units (no UCUM syntax), references as links, provenance out of the detail."""
    for card in cards_of(scenario):
        detail = card.get("detail", "")
        assert len(detail) <= DETAIL_LIMIT, (card["summary"], len(detail))
        assert not UCUM_SYNTAX.search(card["summary"] + detail), card["summary"]
        assert "Observation/" not in detail.split("**On the chart but not used**")[0]  # ids: in the extension
        table = [line for line in detail.splitlines() if line.startswith("|")]
        assert all(line.count(" | ") == 3 for line in table if not line.startswith("|---")), table
        assert card["extension"][PROVENANCE]["rule"]["id"] == card["source"]["topic"]["code"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden_suggestions_are_draft_r4_service_requests_for_the_patient(scenario: str) -> None:
    """Suggestions create draft ServiceRequests (workup) or delete one of the request's own draft orders,
    never anything else (CDS Hooks 2.0 § Action; cards never propose a drug or dose)."""
    context = request_of(scenario)["context"]
    patient_id = context["patientId"]
    drafts = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in context.get("draftOrders", {}).get("entry", [])
    }
    for card in cards_of(scenario):
        for suggestion in card.get("suggestions", []):
            assert suggestion["label"]
            for action in suggestion["actions"]:
                if action["type"] == "delete":
                    assert action["resourceId"] in drafts
                    assert set(action) == {"type", "description", "resourceId"}
                    continue
                assert action["type"] == "create"
                resource = action["resource"]
                ServiceRequest.model_validate(resource)
                assert resource["resourceType"] == "ServiceRequest"
                assert resource["status"] == "draft"
                assert resource["intent"] == "proposal"
                assert resource["subject"] == {"reference": f"Patient/{patient_id}"}
                assert resource["code"]["text"]


def test_each_pathway_has_a_positive_and_a_negative_scenario() -> None:
    fired = {code for cards in EXPECTED_CARDS.values() for code, _, _ in cards}
    assert fired == {
        METASTATIC, CALCIPHYLAXIS, DYSTROPHIC, IATROGENIC, TUMORAL, KNOWN, MISSING,
        WARFARIN, CALCIUM_LOAD, PHOSPHATE_LOAD, IV_CALCIUM_SITE,
    }  # fmt: skip
    negatives = {
        WARFARIN: "order-sign-warfarin-no-risk-factors",
        CALCIUM_LOAD: "order-sign-calcium-normal-calcium",
        PHOSPHATE_LOAD: "order-sign-phosphate-ckd3",
        IV_CALCIUM_SITE: "order-sign-statin-dialysis",
        METASTATIC: "normal-albumin-no-correction",
        CALCIPHYLAXIS: "dialysis-no-risk-factors",
        DYSTROPHIC: "refuted-diagnosis",
        IATROGENIC: "iv-calcium-old-or-oral",
        TUMORAL: "high-phosphate-low-egfr",
        KNOWN: "known-calcinosis-worked-up",
        MISSING: "crest-normal-labs",
    }
    for code, scenario in negatives.items():
        assert code not in {c for c, _, _ in EXPECTED_CARDS[scenario]}, scenario
