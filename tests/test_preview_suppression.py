"""The preview page says which of a demo patient's cards the hook would hold back now, and why (issue 13).

Real parts only: the app under uvicorn (``tests.servers.RunningService``) with an injected clock, the real
hook and feedback endpoints to override a card, SQLite and PostgreSQL (``database_url``). The preview's
question to the card history is read-only: nothing is written, counted or recorded as a suppression.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from service.api.hooks import hook_call
from service.demo import bundle, prefetch
from service.settings import Settings
from tests.db_lock import held_lock
from tests.load_tools import metric, rows
from tests.servers import PostgresServer, RunningService

HOOK = "/cds-services/calcinosis-cutis-risk"
FEEDBACK = HOOK + "/feedback"
REASONS = "http://calcinosis-cds.example.org/fhir/CodeSystem/override-reason"
HYPERPTH, SEVERE, CREST = "demo-hyperpth", "demo-severe", "demo-crest"  # warning, critical, info
METASTATIC = "metastatic-calcification"
WINDOW_DAYS = 14  # the metastatic rule's own window here (the default is 30): "until" must follow it
HISTORY_TABLES = ("card_history", "suppressions", "feedback")


class Clock:
    """The service's clock; noon, so that a few hours either way keep every demo date on its day."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(database_url: str, clock: Clock) -> Iterator[RunningService]:
    settings = Settings(database_url=database_url, suppression_days_by_rule={METASTATIC: WINDOW_DAYS})
    with RunningService(settings, clock) as running:
        yield running


def hook_cards(client: httpx.Client, url: str, patient_id: str, now: datetime) -> list[dict[str, Any]]:
    """The real hook's cards for the demo patient's data as of ``now`` (what the preview sends then)."""
    values = prefetch(bundle(patient_id, now))
    request = hook_call("patient-view", patient_id, user="Practitioner/ehr", prefetch=values)
    response = client.post(
        url + HOOK, content=orjson.dumps(request), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


def history_card_uuids(database_url: str) -> set[str]:
    """The card uuids in the card history, read on a worker thread: ``rows`` runs an event loop of its own,
    and a browser test's thread already has Playwright's."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        found = worker.submit(rows, database_url, "card_history").result()
    return {row["card_uuid"] for row in found}


def issued_card(client: httpx.Client, url: str, database_url: str, patient_id: str, now: datetime) -> str:
    """The uuid of the one card the hook sends for the demo patient, once its history row is written (the
    history is queued and written after the response)."""
    (card,) = hook_cards(client, url, patient_id, now)
    deadline = time.monotonic() + 10
    while card["uuid"] not in history_card_uuids(database_url):
        assert time.monotonic() < deadline, "the card history was not written"
        time.sleep(0.05)
    return str(card["uuid"])


def override(
    client: httpx.Client, url: str, card_uuid: str, when: datetime, *, code: str | None, comment: bool = False
) -> None:
    """Override the card through the real feedback endpoint (CDS Hooks 2.0 § Feedback)."""
    reason: dict[str, Any] = {"reason": {"system": REASONS, "code": code}} if code else {}
    if comment:
        reason["userComment"] = "seen by the endocrinologist last week"
    item = {"card": card_uuid, "outcome": "overridden", "outcomeTimestamp": when.isoformat()}
    if reason:
        item["overrideReason"] = reason
    response = client.post(url + FEEDBACK, json={"feedback": [item]})
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1


def preview(client: httpx.Client, url: str, patient_id: str) -> dict[str, Any]:
    response = client.post(f"{url}/preview/api/cards/{patient_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def history_counts(database_url: str) -> dict[str, int]:
    return {table: len(rows(database_url, table)) for table in HISTORY_TABLES}


def utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0), text
    return moment


def test_an_overridden_card_is_reported_held_back_with_its_reason_and_window_end(
    service: RunningService, client: httpx.Client, database_url: str, clock: Clock
) -> None:
    """The preview marks the card the hook holds back, with the override's reason and the rule's window end;
    the hook agrees, before and after that end; the preview records and counts nothing."""
    overridden = issued_card(client, service.url, database_url, HYPERPTH, clock.now)
    # Overridden 13 days 23 hours ago: the 14-day window ends an hour from now.
    overridden_on = clock.now - timedelta(days=WINDOW_DAYS - 1, hours=23)
    override(client, service.url, overridden, overridden_on, code="already-addressed")
    counts = history_counts(database_url)
    suppressions = metric(service.url, "cds_suppressions_total")

    body = preview(client, service.url, HYPERPTH)
    (card,) = body["cards"]  # still shown: it is a preview
    assert card["indicator"] == "warning"
    assert body["suppression"] == "checked"
    (held,) = body["heldBack"]
    assert {k: v for k, v in held.items() if k not in ("overriddenOn", "until")} == {
        "card": card["uuid"],
        "rule": METASTATIC,
        "overriddenCard": overridden,
        "reason": {
            "system": REASONS,
            "code": "already-addressed",
            "display": "Already addressed",
            "comment": False,
        },
    }
    assert utc(held["overriddenOn"]) == overridden_on
    assert utc(held["until"]) == overridden_on + timedelta(days=WINDOW_DAYS) == clock.now + timedelta(hours=1)
    assert history_counts(database_url) == counts  # no card row, no suppression row
    assert metric(service.url, "cds_suppressions_total") == suppressions  # not counted as a suppression
    assert hook_cards(client, service.url, HYPERPTH, clock.now) == []  # the hook does hold it back

    clock.now += timedelta(minutes=30)  # before the window ends: still held back
    assert [h["overriddenCard"] for h in preview(client, service.url, HYPERPTH)["heldBack"]] == [overridden]
    clock.now += timedelta(hours=1)  # past the window's end: shown to an EHR again
    assert preview(client, service.url, HYPERPTH)["heldBack"] == []
    assert [c["indicator"] for c in hook_cards(client, service.url, HYPERPTH, clock.now)] == ["warning"]


def test_an_override_with_only_a_comment_is_reported_as_a_comment(
    service: RunningService, client: httpx.Client, database_url: str, clock: Clock
) -> None:
    """A comment is a reason (its text is never kept, so the preview says only that there was one)."""
    overridden = issued_card(client, service.url, database_url, HYPERPTH, clock.now)
    override(client, service.url, overridden, clock.now, code=None, comment=True)
    (held,) = preview(client, service.url, HYPERPTH)["heldBack"]
    assert held["reason"] == {"system": None, "code": None, "display": None, "comment": True}
    assert utc(held["until"]) == clock.now + timedelta(days=WINDOW_DAYS)


def test_the_window_end_is_that_of_the_latest_override(
    service: RunningService, client: httpx.Client, database_url: str, clock: Clock
) -> None:
    """Overridden twice (the EHR sent feedback again days later): the card is held back until the later
    override's window ends, and the preview names that override."""
    overridden = issued_card(client, service.url, database_url, HYPERPTH, clock.now)
    earlier, later = clock.now - timedelta(days=10), clock.now - timedelta(days=2)
    override(client, service.url, overridden, earlier, code="already-addressed")
    override(client, service.url, overridden, later, code="not-clinically-relevant")
    (held,) = preview(client, service.url, HYPERPTH)["heldBack"]
    assert utc(held["overriddenOn"]) == later
    assert utc(held["until"]) == later + timedelta(days=WINDOW_DAYS)
    assert held["reason"]["code"] == "not-clinically-relevant"


def test_a_critical_card_overridden_is_not_held_back(
    service: RunningService, client: httpx.Client, database_url: str, clock: Clock
) -> None:
    overridden = issued_card(client, service.url, database_url, SEVERE, clock.now)
    override(client, service.url, overridden, clock.now, code="already-addressed")
    body = preview(client, service.url, SEVERE)
    assert [c["indicator"] for c in body["cards"]] == ["critical"]
    assert body["heldBack"] == []
    assert body["suppression"] == "checked"
    assert [c["indicator"] for c in hook_cards(client, service.url, SEVERE, clock.now)] == ["critical"]


def test_a_patient_without_an_override_has_nothing_held_back(
    service: RunningService, client: httpx.Client, database_url: str, clock: Clock
) -> None:
    """Another patient's override holds nothing back here (suppression is per patient)."""
    overridden = issued_card(client, service.url, database_url, HYPERPTH, clock.now)
    override(client, service.url, overridden, clock.now, code="already-addressed")
    body = preview(client, service.url, CREST)
    assert len(body["cards"]) == 1
    assert body["heldBack"] == []
    assert body["suppression"] == "checked"


def test_a_read_locked_out_says_the_suppression_state_is_unknown(
    postgres_server: PostgresServer, client: httpx.Client, clock: Clock
) -> None:
    """The card history locked against readers (PostgreSQL ``ACCESS EXCLUSIVE``; SQLite in WAL mode has no
    such lock while the service holds its connections): the read gives up after its lock wait, as on the
    hook's path, and the preview still shows every card but says it cannot tell which an EHR would see."""
    database_url = postgres_server.new_database()
    with RunningService(Settings(database_url=database_url), clock) as service:
        overridden = issued_card(client, service.url, database_url, HYPERPTH, clock.now)
        override(client, service.url, overridden, clock.now, code="already-addressed")
        failures = metric(service.url, "cds_storage_failures_total")
        with held_lock(database_url, readers_blocked=True):
            body = preview(client, service.url, HYPERPTH)
        assert [c["indicator"] for c in body["cards"]] == ["warning"]
        assert body["heldBack"] == []
        assert body["suppression"] == "unavailable"
        assert metric(service.url, "cds_storage_failures_total") == failures  # the hook's count only
        assert [h["overriddenCard"] for h in preview(client, service.url, HYPERPTH)["heldBack"]] == [
            overridden
        ]


def test_a_read_past_its_deadline_says_the_suppression_state_is_unknown(
    database_url: str, client: httpx.Client, clock: Clock
) -> None:
    """A deadline no read can meet stands for a hung connection: the preview does not wait for it either."""
    settings = Settings(database_url=database_url, suppression_read_deadline_s=0.000_001)
    with RunningService(settings, clock) as service:
        overridden = issued_card(client, service.url, database_url, HYPERPTH, clock.now)
        override(client, service.url, overridden, clock.now, code="already-addressed")
        body = preview(client, service.url, HYPERPTH)
        assert [c["indicator"] for c in body["cards"]] == ["warning"]
        assert body["heldBack"] == []
        assert body["suppression"] == "unavailable"
