"""The prefetch state machine and template substitution (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from service.fhir.prefetch import (
    PrefetchState,
    TemplateError,
    classify,
    render_template,
    token_values,
    tokens_of,
)

ERROR_OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
WARNING_OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "warning", "code": "incomplete"}],
}


@pytest.mark.parametrize(
    ("prefetch", "expected"),
    [
        (None, PrefetchState.MISSING),
        ({}, PrefetchState.MISSING),
        ({"other": {"resourceType": "Patient"}}, PrefetchState.MISSING),
        ({"k": None}, PrefetchState.NO_DATA),
        ({"k": {"resourceType": "Patient", "id": "1"}}, PrefetchState.PROVIDED),
        ({"k": {"resourceType": "Bundle", "type": "searchset"}}, PrefetchState.PROVIDED),
        ({"k": ERROR_OUTCOME}, PrefetchState.EHR_FAILED),
        ({"k": {"resourceType": "OperationOutcome", "issue": []}}, PrefetchState.EHR_FAILED),
        ({"k": {"resourceType": "Bundle", "entry": [{"resource": ERROR_OUTCOME}]}}, PrefetchState.EHR_FAILED),
        ({"k": {"resourceType": "Bundle", "entry": [{"resource": WARNING_OUTCOME}]}}, PrefetchState.PROVIDED),
        ({"k": "123"}, PrefetchState.EHR_FAILED),
        ({"k": [1, 2]}, PrefetchState.EHR_FAILED),
        ({"k": {"no": "resourceType"}}, PrefetchState.EHR_FAILED),
    ],
)
def test_classify(prefetch: dict[str, Any] | None, expected: PrefetchState) -> None:
    assert classify(prefetch, "k") is expected


def test_tokens_from_context_and_user() -> None:
    values = token_values({"patientId": "123", "userId": "PractitionerRole/r9", "encounterId": "e1"})
    assert values == {
        "context.patientId": "123",
        "context.userId": "PractitionerRole/r9",
        "context.encounterId": "e1",
        "userPractitionerRoleId": "r9",
    }


def test_render_substitutes_and_encodes() -> None:
    values = {"context.patientId": "a/../b&x=1", "userPractitionerId": "p 1"}
    rendered = render_template(
        "Observation?patient={{context.patientId}}&performer={{ userPractitionerId }}", values
    )
    assert rendered == "Observation?patient=a%2F..%2Fb%26x%3D1&performer=p%201"


def test_render_fails_on_missing_token() -> None:
    with pytest.raises(TemplateError, match="userPatientId"):
        render_template("Patient/{{userPatientId}}", {"context.patientId": "1"})


def test_tokens_of() -> None:
    assert tokens_of("A?x={{context.patientId}}&y={{userPractitionerId}}") == {
        "context.patientId",
        "userPractitionerId",
    }
