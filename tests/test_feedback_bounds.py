"""Feedback is bounded: every stored string, the lists, the items per batch and the request size. Over a
bound the batch gets a 400 naming the field (413 for the body) and nothing of it is stored."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.conftest import StartService
from tests.load_tools import FEEDBACK, rows

MEGABYTE = 1024 * 1024
GOOD: dict[str, Any] = {"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-20T10:00:00Z"}
SYSTEM = "http://calcinosis-cds.example.org/fhir/CodeSystem/override-reason"


def reason(**coding: str) -> dict[str, Any]:
    return {**GOOD, "overrideReason": {"reason": {"system": SYSTEM, "code": "already-addressed", **coding}}}


def accepted(suggestions: list[dict[str, str]]) -> dict[str, Any]:
    return {**GOOD, "outcome": "accepted", "acceptedSuggestions": suggestions}


# name -> (the batch, the field the 400 must name)
OVER_THE_BOUND: dict[str, tuple[list[dict[str, Any]], str]] = {
    "override code of 1 MB": ([GOOD, reason(code="x" * MEGABYTE)], "feedback.1.overrideReason.reason.code"),
    "override code of 129 characters": ([reason(code="x" * 129)], "feedback.0.overrideReason.reason.code"),
    "override system of 1 MB": (
        [reason(system="urn:" + "x" * MEGABYTE)],
        "feedback.0.overrideReason.reason.system",
    ),
    "override display of 1 MB": (
        [reason(display="x" * MEGABYTE)],
        "feedback.0.overrideReason.reason.display",
    ),
    "comment of 1 MB": (
        [{**GOOD, "overrideReason": {"userComment": "x" * MEGABYTE}}],
        "feedback.0.overrideReason.userComment",
    ),
    "card of 65 characters": ([{**GOOD, "card": "c" * 65}], "feedback.0.card"),
    "suggestion id of 1 MB": ([accepted([{"id": "s" * MEGABYTE}])], "feedback.0.acceptedSuggestions.0.id"),
    "101 accepted suggestions": (
        [accepted([{"id": f"s-{i}"} for i in range(101)])],
        "feedback.0.acceptedSuggestions",
    ),
    "1001 items": ([{**GOOD, "card": f"c-{i}"} for i in range(1001)], "feedback"),
}


@pytest.mark.parametrize("case", list(OVER_THE_BOUND), ids=list(OVER_THE_BOUND))
def test_over_a_bound_is_a_400_naming_the_field_and_nothing_is_stored(
    start_service: StartService, database_url: str, client: httpx.Client, case: str
) -> None:
    # A body limit above the values, so that each field's own bound is what refuses them.
    service = start_service(database_url=database_url, max_feedback_bytes=4 * MEGABYTE)
    batch, field = OVER_THE_BOUND[case]
    response = client.post(service.url + FEEDBACK, json={"feedback": batch})
    assert response.status_code == 400, response.text[:300]
    issues = response.json()["issue"]
    assert [i["expression"] for i in issues] == [[field]]
    assert issues[0]["details"]["coding"][0]["code"] == "request.invalid"
    assert len(response.content) < 2000, "the offending value is not echoed"
    assert rows(database_url, "feedback") == []


def test_a_30_mb_batch_is_refused_before_it_is_parsed(
    start_service: StartService, database_url: str, client: httpx.Client
) -> None:
    """1000 items of 30 KB each (in an extension, which is not stored): refused by size, nothing stored."""
    service = start_service(database_url=database_url)
    batch = [{**GOOD, "card": f"c-{i}", "extension": [{"valueString": "x" * 30_000}]} for i in range(1000)]
    body = json.dumps({"feedback": batch}).encode()
    started = time.perf_counter()
    response = client.post(service.url + FEEDBACK, content=body, headers={"Content-Type": "application/json"})
    elapsed = time.perf_counter() - started
    print(f"\n{len(body) / MEGABYTE:.1f} MB feedback: {response.status_code} in {elapsed:.2f} s")
    assert response.status_code == 413
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "request.body-too-large"
    assert rows(database_url, "feedback") == []


def test_a_batch_at_the_bounds_is_stored(
    start_service: StartService, database_url: str, client: httpx.Client
) -> None:
    service = start_service(database_url=database_url)
    batch = [
        {**reason(code="x" * 128, system="urn:" + "s" * 508), "card": "c-reason"},
        {**accepted([{"id": "s" * 128} for _ in range(100)]), "card": "c-accepted"},
        {**GOOD, "card": "c" * 64, "overrideReason": {"userComment": "x" * 4096}},
    ]
    response = client.post(service.url + FEEDBACK, json={"feedback": batch})
    assert response.status_code == 200, response.text[:300]
    assert response.json()["stored"] == 3
    stored = {r["card_uuid"]: r for r in rows(database_url, "feedback")}
    assert stored["c-reason"]["override_reason_code"] == "x" * 128
    assert stored["c-reason"]["override_reason_system"] == "urn:" + "s" * 508
    assert stored["c-accepted"]["accepted_suggestions"] == 100
    assert bool(stored["c" * 64]["has_comment"])  # SQLite answers 1
