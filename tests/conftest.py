"""Shared fixtures: the FHIR test server (one per session, reset per test) and the service under uvicorn."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.settings import Settings
from tests.servers import FhirTestServer, PostgresServer, RedisServer, RunningService


@pytest.fixture(scope="session")
def fhir_server_process() -> Iterator[FhirTestServer]:
    server = FhirTestServer(token=secrets.token_urlsafe(16))
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests against the embedded SQLite file and a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cds.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def fhir(fhir_server_process: FhirTestServer) -> FhirTestServer:
    """The FHIR server, emptied and without faults."""
    fhir_server_process.reset()
    return fhir_server_process


StartService = Callable[..., RunningService]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """Start the real app under uvicorn with the given settings (keyword overrides of ``Settings``).

    Each test gets its own SQLite database file unless ``database_url`` is given.
    """
    with ExitStack() as stack:

        def start(**overrides: Any) -> RunningService:
            settings = {"database_url": f"sqlite:///{tmp_path / 'cds.db'}", **overrides}
            return stack.enter_context(RunningService(Settings(**settings)))

        yield start


@pytest.fixture
def service(start_service: StartService) -> RunningService:
    """The service with development defaults."""
    return start_service()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c
