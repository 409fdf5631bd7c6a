"""Feedback (CDS Hooks 2.0 § Feedback), card history and suppression, against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from service.settings import Settings
from tests import fhir_data as fd
from tests.load_tools import rows, wait_until
from tests.reference_data import EXAMPLES, load
from tests.servers import RunningService, ServiceProcess

HOOK = "/cds-services/calcinosis-cutis-risk"
FEEDBACK = HOOK + "/feedback"
ALBUMIN = "1751-7"


class Clock:
    """An injectable clock for the service under test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def history_rows(database_url: str, table: str, count: int) -> list[dict[str, Any]]:
    """Rows of a history table once ``count`` are there: the service queues history and answers."""
    deadline = time.monotonic() + 5
    found = rows(database_url, table)
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.02)
        found = rows(database_url, table)
    return found


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(database_url: str, clock: Clock) -> Any:
    with RunningService(Settings(database_url=database_url), clock) as running:
        yield running


def hook(
    client: httpx.Client,
    service: RunningService,
    database_url: str,
    labs: list[dict[str, Any]],
    pid: str = "p-canary-7",
) -> list[dict[str, Any]]:
    """Call the hook; once cards come back, wait until their history is written (it is queued and written
    after the response; tests that send feedback at once are in tests/test_history_queue.py)."""
    response = client.post(
        service.url + HOOK, json=fd.request_body(pid=pid, prefetch=fd.full_prefetch(pid, labs))
    )
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    wanted = {card["uuid"] for card in cards}
    deadline = time.monotonic() + 5
    while (
        wanted - {r["card_uuid"] for r in rows(database_url, "card_history")} and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    return cards


def overridden(card_uuid: str, when: datetime, *, reason: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {"card": card_uuid, "outcome": "overridden", "outcomeTimestamp": when.isoformat()}
    if reason:
        code = {
            "system": "http://calcinosis-cds.example.org/fhir/CodeSystem/override-reason",
            "code": "already-addressed",
        }
        item["overrideReason"] = {"reason": code}
    return item


def high_calcium(value: float, pid: str = "p-canary-7", drawn: str = "a") -> list[dict[str, Any]]:
    """The same chart on every call (stable resource ids), unless ``drawn`` names another draw."""
    return [
        fd.lab(fd.CALCIUM_MASS, value, "mg/dL", pid=pid, oid=f"ca-{drawn}-{value}"),
        fd.lab(ALBUMIN, 4.0, "g/dL", pid=pid, oid=f"alb-{drawn}"),
    ]


@pytest.mark.parametrize(
    "example",
    ["18-feedback-accepted.json", "19-feedback-overridden.json", "20-feedback-overridden-with-reason.json"],
)
def test_spec_examples_are_accepted_and_unknown_cards_flagged(
    service: RunningService, client: httpx.Client, database_url: str, example: str
) -> None:
    body = load(EXAMPLES / "spec-2.0.1" / example)
    response = client.post(service.url + FEEDBACK, json=body)
    assert response.status_code == 200
    assert response.json() == {"stored": 1, "duplicates": 0, "unknownCards": [body["feedback"][0]["card"]]}
    stored = rows(database_url, "feedback")
    assert [(r["card_uuid"], r["known_card"]) for r in stored] == [(body["feedback"][0]["card"], False)]


def test_free_text_comments_are_not_kept(
    service: RunningService, client: httpx.Client, database_url: str
) -> None:
    body = load(EXAMPLES / "spec-2.0.1" / "20-feedback-overridden-with-reason.json")
    client.post(service.url + FEEDBACK, json=body).raise_for_status()
    stored = rows(database_url, "feedback")[0]
    assert stored["has_comment"] is True or stored["has_comment"] == 1
    assert "A comment entered by the clinician" not in json.dumps(stored, default=str)


GOOD = {"card": "c-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-20T10:00:00Z"}
MALFORMED = {
    "not json": b"{",
    "not an object": b"[]",
    "no feedback": b"{}",
    "empty batch": json.dumps({"feedback": []}).encode(),
    "feedback not a list": json.dumps({"feedback": GOOD}).encode(),
    "missing card": json.dumps({"feedback": [GOOD, {k: v for k, v in GOOD.items() if k != "card"}]}).encode(),
    "bad outcome": json.dumps({"feedback": [GOOD, {**GOOD, "outcome": "ignored"}]}).encode(),
    "accepted without suggestions": json.dumps(
        {"feedback": [GOOD, {**GOOD, "outcome": "accepted"}]}
    ).encode(),
    "timestamp without zone": json.dumps(
        {"feedback": [GOOD, {**GOOD, "outcomeTimestamp": "2026-11-20T10:00:00"}]}
    ).encode(),
    "timestamp not a date": json.dumps(
        {"feedback": [GOOD, {**GOOD, "outcomeTimestamp": "yesterday"}]}
    ).encode(),
    "reason not a coding": json.dumps(
        {"feedback": [GOOD, {**GOOD, "overrideReason": {"reason": "x"}}]}
    ).encode(),
}


@pytest.mark.parametrize("variant", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_batches_are_rejected_and_nothing_is_stored(
    service: RunningService, client: httpx.Client, database_url: str, variant: str
) -> None:
    response = client.post(
        service.url + FEEDBACK, content=MALFORMED[variant], headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    issues = response.json()["issue"]
    if variant.startswith(("missing", "bad", "accepted", "timestamp", "reason")):
        assert all(i["expression"][0].startswith("feedback.1") for i in issues), issues  # names the bad item
    assert rows(database_url, "feedback") == []


def test_feedback_for_an_unknown_service_is_404(service: RunningService, client: httpx.Client) -> None:
    response = client.post(service.url + "/cds-services/nope/feedback", json={"feedback": [GOOD]})
    assert response.status_code == 404


def test_the_same_feedback_twice_is_stored_once(
    service: RunningService, client: httpx.Client, database_url: str
) -> None:
    body = {"feedback": [GOOD, {**GOOD, "card": "c-2"}]}
    assert client.post(service.url + FEEDBACK, json=body).json() == {
        "stored": 2,
        "duplicates": 0,
        "unknownCards": ["c-1", "c-2"],
    }
    assert client.post(service.url + FEEDBACK, json=body).json() == {
        "stored": 0,
        "duplicates": 2,
        "unknownCards": ["c-1", "c-2"],
    }
    assert len(rows(database_url, "feedback")) == 2


def test_concurrent_feedback_from_many_clients(service: RunningService, database_url: str) -> None:
    batches = [{"feedback": [{**GOOD, "card": f"c-{i}-{j}"} for j in range(5)]} for i in range(20)]

    def send(batch: dict[str, Any]) -> int:
        with httpx.Client(timeout=30) as own:
            return own.post(service.url + FEEDBACK, json=batch).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, batches + batches))  # every batch twice, concurrently
    assert statuses == [200] * 40
    assert len(rows(database_url, "feedback")) == 100


def test_issued_cards_are_recorded_without_patient_id_or_values(
    service: RunningService, client: httpx.Client, database_url: str
) -> None:
    cards = hook(client, service, database_url, high_calcium(12.34))
    history = history_rows(database_url, "card_history", 1)
    assert [(r["card_uuid"], r["rule_id"], r["indicator"]) for r in history] == [
        (cards[0]["uuid"], "metastatic-calcification", "warning")
    ]
    dumped = json.dumps(history, default=str)
    assert "p-canary-7" not in dumped
    assert "12.34" not in dumped
    assert len(history[0]["patient_key"]) == 64


def test_override_with_reason_suppresses_until_the_window_ends(
    service: RunningService, client: httpx.Client, database_url: str, clock: Clock
) -> None:
    card = hook(client, service, database_url, high_calcium(12.4))[0]
    feedback = {"feedback": [overridden(card["uuid"], clock.now)]}
    assert client.post(service.url + FEEDBACK, json=feedback).json()["stored"] == 1
    clock.now += timedelta(days=1)
    assert hook(client, service, database_url, high_calcium(12.4)) == []
    suppressions = history_rows(database_url, "suppressions", 1)
    assert [(r["rule_id"], r["overridden_card_uuid"]) for r in suppressions] == [
        ("metastatic-calcification", card["uuid"])
    ]
    clock.now += timedelta(days=28, hours=23)  # 29 days 23 hours after the override: still inside the window
    assert hook(client, service, database_url, high_calcium(12.4)) == []
    clock.now += timedelta(hours=2)  # 30 days 1 hour after: past the 30-day window
    assert [c["summary"] for c in hook(client, service, database_url, high_calcium(12.4))] == [
        card["summary"]
    ]


def test_worse_evidence_breaks_through_a_suppression(
    service: RunningService, client: httpx.Client, clock: Clock, database_url: str
) -> None:
    mild = hook(client, service, database_url, high_calcium(11.0))[0]
    assert mild["indicator"] == "info"
    client.post(
        service.url + FEEDBACK, json={"feedback": [overridden(mild["uuid"], clock.now)]}
    ).raise_for_status()
    assert hook(client, service, database_url, high_calcium(11.0)) == []
    severe = hook(client, service, database_url, high_calcium(14.5))
    assert [c["indicator"] for c in severe] == ["critical"]


def test_a_critical_card_is_never_suppressed(
    service: RunningService, client: httpx.Client, clock: Clock, database_url: str
) -> None:
    """Issue 13: one "not clinically relevant" override hid a Ca 14.8 critical card for 30 days."""
    critical = hook(client, service, database_url, high_calcium(14.8))[0]
    assert critical["indicator"] == "critical"
    client.post(
        service.url + FEEDBACK, json={"feedback": [overridden(critical["uuid"], clock.now)]}
    ).raise_for_status()
    clock.now += timedelta(days=1)
    assert [c["indicator"] for c in hook(client, service, database_url, high_calcium(14.8))] == ["critical"]


def test_new_evidence_ends_a_suppression(
    service: RunningService, client: httpx.Client, clock: Clock, database_url: str
) -> None:
    """The same grade from a newer result (another draw) is new evidence: the card is shown again."""
    card = hook(client, service, database_url, high_calcium(12.4))[0]
    client.post(
        service.url + FEEDBACK, json={"feedback": [overridden(card["uuid"], clock.now)]}
    ).raise_for_status()
    clock.now += timedelta(days=1)
    assert hook(client, service, database_url, high_calcium(12.4)) == []  # the same evidence: held back
    newer = hook(client, service, database_url, high_calcium(12.4, drawn="b"))
    assert [c["summary"] for c in newer] == [card["summary"]]


def test_override_without_reason_does_not_suppress(
    service: RunningService, client: httpx.Client, clock: Clock, database_url: str
) -> None:
    card = hook(client, service, database_url, high_calcium(12.4))[0]
    client.post(
        service.url + FEEDBACK, json={"feedback": [overridden(card["uuid"], clock.now, reason=False)]}
    ).raise_for_status()
    assert len(hook(client, service, database_url, high_calcium(12.4))) == 1


def test_suppression_is_per_patient(
    service: RunningService, client: httpx.Client, clock: Clock, database_url: str
) -> None:
    card = hook(client, service, database_url, high_calcium(12.4))[0]
    client.post(
        service.url + FEEDBACK, json={"feedback": [overridden(card["uuid"], clock.now)]}
    ).raise_for_status()
    assert len(hook(client, service, database_url, high_calcium(12.4, pid="another"), pid="another")) == 1


def test_suppression_window_is_configurable_per_rule(
    database_url: str, clock: Clock, client: httpx.Client
) -> None:
    settings = Settings(database_url=database_url, suppression_days_by_rule={"metastatic-calcification": 0})
    with RunningService(settings, clock) as service:
        card = hook(client, service, database_url, high_calcium(12.4))[0]
        client.post(
            service.url + FEEDBACK, json={"feedback": [overridden(card["uuid"], clock.now)]}
        ).raise_for_status()
        assert len(hook(client, service, database_url, high_calcium(12.4))) == 1


def test_known_card_feedback_is_tied_to_its_rule(
    service: RunningService, client: httpx.Client, database_url: str
) -> None:
    card = hook(client, service, database_url, high_calcium(12.4))[0]
    suggestion = card["suggestions"][0]["uuid"]
    item = {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": suggestion}],
        "outcomeTimestamp": "2026-11-21T12:05:00Z",
    }
    assert client.post(service.url + FEEDBACK, json={"feedback": [item]}).json() == {
        "stored": 1,
        "duplicates": 0,
    }
    joined = rows(database_url, "feedback JOIN card_history ON feedback.card_uuid = card_history.card_uuid")
    assert [(r["rule_id"], r["outcome"], r["accepted_suggestions"]) for r in joined] == [
        ("metastatic-calcification", "accepted", 1)
    ]


def test_an_override_stored_by_another_process_holds_the_card_back_within_the_refresh(
    database_url: str, client: httpx.Client
) -> None:
    """Each worker or replica keeps its own override index (``service.store.override_index``): the process
    that stores an override holds the next card back at once; another one does within
    CDS_SUPPRESSION_REFRESH_S (until then it shows the card: over-alerting, never hiding advice)."""
    env = {"CDS_DATABASE_URL": database_url, "CDS_SUPPRESSION_REFRESH_S": "0.5"}
    body = fd.request_body(
        pid="p-shared", prefetch=fd.full_prefetch("p-shared", high_calcium(12.4, "p-shared"))
    )
    with ServiceProcess(env) as first, ServiceProcess(env) as second:
        card = client.post(first.url + HOOK, json=body).json()["cards"][0]
        assert client.post(second.url + HOOK, json=body).json()["cards"][0]["summary"] == card["summary"]
        feedback = {"feedback": [overridden(card["uuid"], datetime.now(UTC))]}
        client.post(first.url + FEEDBACK, json=feedback).raise_for_status()
        assert client.post(first.url + HOOK, json=body).json()["cards"] == []
        took = wait_until(lambda: client.post(second.url + HOOK, json=body).json()["cards"] == [], 30)
    print(f"\nthe other process held the card back {took:.2f} s after the override (refresh every 0.5 s)")
