"""The order hooks over real HTTP: discovery derived from the services data, order-sign and order-select
calls (prefetch and the FHIR fallback against the Medplum engine), and every malformed order context a 400.

The clinical outcome of each draft rule is pinned by the golden pairs (``tests/order_scenarios.py``); here
the hook table's contract: which context each hook requires, which prefetch tokens it allows, and that
a call is answered by the service of its hook only.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from cards.catalog import ServiceDeclaration, declared_services
from cards.data_files import read_data
from service.api.hooks import HOOKS, hook_call
from service.api.openapi import request_schemas
from service.api.registry import Registry
from terminology.knowledge import load_knowledge
from tests import fhir_data as fd
from tests.order_scenarios import statin, warfarin
from tests.scenario_data import ALBUMIN, dialysis_dependence
from tests.servers import FhirTestServer, RunningService
from tests.test_golden import GOLDEN
from tests.test_http_api import error_codes, hook_url

SIGN, SELECT = "calcinosis-order-check", "calcinosis-order-select"
PID = "pt-order-warfarin"


def golden_request(scenario: str) -> dict[str, Any]:
    request: dict[str, Any] = json.loads((GOLDEN / f"{scenario}.request.json").read_text(encoding="utf-8"))
    return request


def test_discovery_lists_every_service_of_the_data_on_its_hook(
    service: RunningService, client: httpx.Client
) -> None:
    listed = client.get(f"{service.url}/cds-services").json()["services"]
    declared = read_data("service.json")["services"]
    assert [(s["id"], s["hook"]) for s in listed] == [(s["id"], s["hook"]) for s in declared]
    assert {s["hook"] for s in listed} == {"patient-view", "order-sign", "order-select"}


@pytest.mark.parametrize(
    ("service_id", "scenario", "summaries"),
    [
        (
            SIGN,
            "order-sign-warfarin-dialysis-risk-factors",
            ["Warfarin in kidney failure with 2 calciphylaxis risk factors: reconsider"],
        ),
        (SIGN, "order-sign-statin-dialysis", []),
        (SIGN, "order-sign-hook-library-example", []),
        (
            SELECT,
            "order-select-warfarin",
            ["Warfarin in kidney failure with 2 calciphylaxis risk factors: reconsider"],
        ),
        (SELECT, "order-select-statin-beside-warfarin", []),
        (SELECT, "order-select-hook-library-example", []),
    ],
)
def test_order_calls_over_http(
    service: RunningService, client: httpx.Client, service_id: str, scenario: str, summaries: list[str]
) -> None:
    response = client.post(hook_url(service, service_id), json=golden_request(scenario))
    assert response.status_code == 200, response.text
    assert [c["summary"] for c in response.json()["cards"]] == summaries


def test_order_sign_fetches_the_chart_from_the_fhir_server(
    fhir: FhirTestServer, service: RunningService, client: httpx.Client
) -> None:
    """No prefetch: the chart comes from the FHIR server, the drafts from the context (they are not stored
    anywhere yet); warfarin warns, a statin for the same patient draws nothing."""
    fhir.load(
        [
            fd.patient(PID, gender="female", birth="1958-03-14"),
            dialysis_dependence("z992", PID),
            fd.lab(ALBUMIN, 3.0, "g/dL", pid=PID),
        ]
    )
    answers = {}
    for draft in (warfarin(PID), statin(PID)):
        body = hook_call(
            "order-sign", PID, user="Practitioner/x", drafts=[draft], fhir_server=fhir.base, token=fhir.token
        )
        response = client.post(hook_url(service, SIGN), json=body)
        assert response.status_code == 200, response.text
        answers[draft["id"]] = response.json()["cards"]
    assert answers["draft-statin"] == []
    [card] = answers["draft-warfarin"]
    assert card["indicator"] == "warning"
    assert [a for s in card["suggestions"] for a in s["actions"]] == [
        {
            "type": "delete",
            "description": "Remove the draft order of Warfarin Sodium 5 MG Oral Tablet (it is not signed)",
            "resourceId": "MedicationRequest/draft-warfarin",
        }
    ]


def _without(context_field: str) -> dict[str, Any]:
    body = golden_request("order-select-warfarin")
    del body["context"][context_field]
    return body


def _with(context_field: str, value: Any) -> dict[str, Any]:
    body = golden_request("order-select-warfarin")
    body["context"][context_field] = value
    return body


@pytest.mark.parametrize(
    ("body", "location"),
    [
        (_without("draftOrders"), "context.draftOrders"),
        (_without("selections"), "context.selections"),
        (_with("draftOrders", {"resourceType": "Patient"}), "context.draftOrders"),
        (_with("draftOrders", {"resourceType": "Bundle", "entry": {}}), "context.draftOrders"),
        (_with("draftOrders", []), "context.draftOrders"),
        (_with("selections", []), "context.selections"),
        (_with("selections", ["MedicationRequest/not-drafted"]), "context"),
        (_with("patientId", ""), "context.patientId"),
    ],
)
def test_a_malformed_order_context_is_a_400_naming_the_field(
    service: RunningService, client: httpx.Client, body: dict[str, Any], location: str
) -> None:
    response = client.post(hook_url(service, SELECT), json=body)
    assert response.status_code == 400, response.text
    assert error_codes(response) == ["request.invalid"]
    assert response.json()["issue"][0]["expression"] == [location]


@pytest.mark.parametrize(
    ("service_id", "scenario"),
    [
        (SIGN, "order-select-warfarin"),
        (SELECT, "order-sign-warfarin-dialysis-risk-factors"),
        ("calcinosis-cutis-risk", "order-sign-warfarin-dialysis-risk-factors"),
        (SIGN, "normal-patient"),
    ],
)
def test_a_call_of_another_hook_is_refused(
    service: RunningService, client: httpx.Client, service_id: str, scenario: str
) -> None:
    response = client.post(hook_url(service, service_id), json=golden_request(scenario))
    assert response.status_code == 400
    assert error_codes(response) == ["request.hook-mismatch"]


def test_order_hooks_allow_only_their_string_context_fields_as_prefetch_tokens() -> None:
    """The hook library's "Prefetch Token" column: userId, patientId, encounterId yes; draftOrders and
    selections (objects and arrays) no."""
    assert HOOKS["order-sign"].prefetch_tokens >= {"context.patientId", "context.encounterId"}
    assert "context.draftOrders" not in HOOKS["order-sign"].prefetch_tokens
    assert "context.selections" not in HOOKS["order-select"].prefetch_tokens


def test_a_service_with_a_token_its_hook_does_not_allow_stops_start_up() -> None:
    [_, sign, _] = declared_services(load_knowledge())
    broken = ServiceDeclaration(
        sign.id, sign.hook, sign.title, sign.description, sign.usage_requirements,
        {"drafts": "MedicationRequest?_id={{context.draftOrders}}"}, sign.advise,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"prefetch calcinosis-order-check.drafts uses unknown tokens"):
        Registry([broken])


def test_a_service_on_an_unknown_hook_stops_start_up() -> None:
    [view, *_] = declared_services(load_knowledge())
    broken = ServiceDeclaration(
        view.id, "encounter-discharge", view.title, view.description, view.usage_requirements,
        view.prefetch, view.advise,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"no hook 'encounter-discharge'"):
        Registry([broken])


def test_the_openapi_document_has_one_request_per_hook(service: RunningService, client: httpx.Client) -> None:
    schema = client.get(f"{service.url}/openapi.json").json()
    schemas = schema["components"]["schemas"]
    calls = [ref["$ref"].rsplit("/", 1)[1] for ref in schemas["HookCall"]["oneOf"]]
    assert calls == ["OrderSelectRequest", "OrderSignRequest", "PatientViewRequest"]
    assert schemas["OrderSignRequest"]["properties"]["hook"] == {"type": "string", "const": "order-sign"}
    assert "draftOrders" in schemas["OrderSignContext"]["required"]
    assert request_schemas(["patient-view"])["HookCall"]["oneOf"] == [
        {"$ref": "#/components/schemas/PatientViewRequest"}
    ]
