"""The jti replay cache over real HTTP (issue 11): a used token stays used across a restart and between
workers (database-backed when there is no Redis), and an unreachable cache - Redis or the database -
refuses calls with a 503 ``auth.replay-cache-unavailable`` while ``/readyz`` says not ready, until it is
back."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from service.settings import Settings
from service.store.engine import create_engine
from service.store.models import UsedTokenId
from service.store.replay_table import DatabaseReplayCache
from service.store.schema import upgrade
from tests import jwt_tools as jt
from tests.servers import PostgresServer, RedisServer, RunningService
from tests.test_auth import assert_rejected

PUBLIC = "https://cds.example.org"  # both instances sit behind one public URL, as replicas would
DISCOVERY = "/cds-services"
KEY = jt.ec_key("ec-1")


def settings(database_url: str, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url,
        auth_required=True,
        public_base_url=PUBLIC,
        trusted_issuers={jt.ISSUER: {"jwks": jt.jwks(KEY)}},
        **extra,
    )


def bearer() -> str:
    return "Bearer " + jt.token(KEY, jt.claims(PUBLIC + DISCOVERY))


def discover(service: RunningService, authorization: str) -> httpx.Response:
    return httpx.get(service.url + DISCOVERY, headers={"Authorization": authorization}, timeout=30)


def test_a_used_token_is_refused_after_a_restart(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    header = bearer()
    with RunningService(settings(database_url)) as before:
        assert discover(before, header).status_code == 200
    with RunningService(settings(database_url)) as after:
        assert_rejected(discover(after, header))
    assert "token rejected reason=replayed-jti" in caplog.text


def test_workers_on_one_database_share_the_cache(database_url: str) -> None:
    header = bearer()
    with RunningService(settings(database_url)) as one, RunningService(settings(database_url)) as two:
        assert discover(one, header).status_code == 200
        assert_rejected(discover(two, header))
        assert discover(two, bearer()).status_code == 200


def test_expired_ids_are_purged_and_may_come_back(database_url: str) -> None:
    async def run() -> tuple[bool, bool, bool, int]:
        engine = create_engine(database_url)
        try:
            await upgrade(engine)
            cache = DatabaseReplayCache(engine)
            first, replay = await cache.first_use("iss|a", 1), await cache.first_use("iss|a", 1)
            await asyncio.sleep(2.1)
            # A new process purges on its first insert: "a" has expired, only "b" is left.
            await DatabaseReplayCache(engine).first_use("iss|b", 60)
            async with engine.connect() as connection:
                rows = (await connection.execute(select(func.count()).select_from(UsedTokenId))).scalar_one()
            return first, replay, await cache.first_use("iss|a", 60), rows
        finally:
            await engine.dispose()

    first, replay, again, rows_after_purge = asyncio.run(run())
    assert (first, replay, again, rows_after_purge) == (True, False, True, 1)


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503
    issue = response.json()["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "auth.replay-cache-unavailable"


def readiness(service: RunningService) -> tuple[int, str]:
    response = httpx.get(service.url + "/readyz", timeout=30)
    return response.status_code, response.json()["status"]


def wait_ready(service: RunningService, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while readiness(service)[0] != 200:
        assert time.monotonic() < deadline, "not ready again after the replay cache came back"
        time.sleep(0.2)


def failures(service: RunningService, backend: str) -> str:
    metrics = httpx.get(service.url + "/metrics", timeout=30).text
    prefix = f'cds_replay_cache_failures_total{{backend="{backend}"}} '
    return next((line.removeprefix(prefix) for line in metrics.splitlines() if line.startswith(prefix)), "0")


def test_redis_down_fails_closed_with_503_and_not_ready(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    try:
        with RunningService(settings(f"sqlite:///{tmp_path / 'cds.db'}", redis_url=redis.url)) as service:
            assert discover(service, bearer()).status_code == 200
            assert readiness(service) == (200, "ready")
            redis.close()
            started = time.monotonic()
            assert_unavailable(discover(service, bearer()))
            refused_in = time.monotonic() - started
            assert readiness(service) == (503, "replay-cache-unavailable")
            assert failures(service, "redis") == "1.0"
            redis.start()
            wait_ready(service)
            assert discover(service, bearer()).status_code == 200
    finally:
        redis.close()
    assert refused_in < 10  # short timeouts: a dead cache does not hold calls (about 2 s at most)


def test_database_down_fails_closed_with_503_and_not_ready() -> None:
    postgres = PostgresServer()  # its own cluster: this test stops it
    try:
        with RunningService(settings(postgres.new_database())) as service:
            assert discover(service, bearer()).status_code == 200
            postgres.stop()
            assert_unavailable(discover(service, bearer()))
            assert readiness(service) == (503, "replay-cache-unavailable")
            assert failures(service, "database") == "1.0"
            postgres.start()
            wait_ready(service)
            assert discover(service, bearer()).status_code == 200
    finally:
        postgres.close()
