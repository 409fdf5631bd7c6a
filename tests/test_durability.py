"""Nothing that got a 200 is lost when the server is killed with SIGKILL, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx
from sqlalchemy import text

from service.store.engine import create_engine
from tests.servers import ServiceProcess

FEEDBACK = "/cds-services/calcinosis-cutis-risk/feedback"


def stored_cards(database_url: str) -> set[str]:
    async def query() -> set[str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                return {row[0] for row in await connection.execute(text("SELECT card_uuid FROM feedback"))}
        finally:
            await engine.dispose()

    return asyncio.run(query())


def test_kill_9_during_a_stream_of_feedback_loses_nothing_acknowledged(database_url: str) -> None:
    env = {"CDS_DATABASE_URL": database_url}
    acknowledged: list[str] = []
    stop = threading.Event()
    with ServiceProcess(env) as service:

        def stream() -> None:
            with httpx.Client(timeout=5) as client:
                for i in range(100_000):
                    if stop.is_set():
                        return
                    card = f"card-{i}"
                    body = {
                        "feedback": [
                            {
                                "card": card,
                                "outcome": "overridden",
                                "outcomeTimestamp": "2026-11-21T10:00:00Z",
                            }
                        ]
                    }
                    try:
                        if client.post(service.url + FEEDBACK, json=body).status_code == 200:
                            acknowledged.append(card)
                    except httpx.HTTPError:
                        return  # the server is gone

        sender = threading.Thread(target=stream)
        sender.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        service.kill(signal.SIGKILL)
        stop.set()
        sender.join(timeout=10)
    assert len(acknowledged) >= 50
    with ServiceProcess(env) as restarted:
        assert httpx.get(restarted.url + "/readyz", timeout=5).status_code == 200
    assert set(acknowledged) <= stored_cards(database_url)
