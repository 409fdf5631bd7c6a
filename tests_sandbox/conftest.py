"""Fixtures of the browser suite: the sandbox build on loopback, the test FHIR server holding the demo
patients (open: the sandbox sends no FHIR token), the service requiring JWTs and trusting the sandbox's
issuer (its key set inline, its ``jku`` allowed), and chromium with a fresh profile; all for the session,
started once."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.cli.sandbox import load_demo
from tests.servers import FhirTestServer, ServiceProcess, free_port
from tests_sandbox.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SANDBOX_BUILD,
    SANDBOX_ISSUER,
    SANDBOX_JKU,
    Sandbox,
    sandbox_key_set,
    static_site,
)


@dataclass(frozen=True)
class ServiceUnderTest:
    url: str
    database_url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    if not (SANDBOX_BUILD / "index.html").is_file():
        pytest.fail(
            f"no CDS Hooks sandbox build at {SANDBOX_BUILD}: this suite needs the project's shared folder "
            "(set CDS_SHARED_DIR if it is not ../shared)",
            pytrace=False,
        )
    with static_site(SANDBOX_BUILD) as url:
        yield url


@pytest.fixture(scope="session")
def fhir() -> Iterator[FhirTestServer]:
    server = FhirTestServer(token=None)
    asyncio.run(load_demo(server.base, None, 0, io.StringIO()))
    yield server
    server.close()


@contextmanager
def serving(fhir: FhirTestServer, folder: Path) -> Iterator[ServiceUnderTest]:
    """``calcinosis-cds serve`` as the README's sandbox set-up runs it, its database and log in ``folder``."""
    port = free_port()
    database_url = f"sqlite:///{folder / 'cds.db'}"
    trusted = {SANDBOX_ISSUER: {"jwks": sandbox_key_set(), "jku": [SANDBOX_JKU]}}
    env = {
        "CDS_AUTH_REQUIRED": "true",
        "CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",  # the URL the browser calls: the JWT audience
        "CDS_TRUSTED_ISSUERS": json.dumps(trusted),
        "CDS_FHIR_SERVER_ALLOWLIST": json.dumps([fhir.base]),  # the fhirServer the page sends
        "CDS_DATABASE_URL": database_url,
    }
    log = folder / "service.log"
    with ServiceProcess(env, log_file=log, log_level="debug", port=port) as process:
        yield ServiceUnderTest(process.url, database_url, log)


@pytest.fixture(scope="session")
def service(fhir: FhirTestServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceUnderTest]:
    """One service for the session; a module whose feedback changes what later visits see (suppression)
    overrides this fixture and ``sandbox`` with its own service."""
    with serving(fhir, tmp_path_factory.mktemp("service")) as running:
        yield running


@pytest.fixture(scope="session")
def sandbox(site: str, fhir: FhirTestServer, service: ServiceUnderTest) -> Sandbox:
    return Sandbox(site, fhir.base, service.url)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """Playwright's Python package driving Debian's chromium; FAILS (never skips) when either is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the Playwright Python package is missing (a dev dependency: bash scripts/setup)", pytrace=False
        )
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (Debian's package)", pytrace=False)
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One browser with a fresh profile for the session. The sandbox keeps its settings in localStorage;
    every visit names its FHIR server, patient, discovery URL and tab in URL parameters, which override
    them (with ``serviceDiscoveryURL`` it reads no stored service). Each visit opens its own page."""
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium")),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
    )
    yield context
    context.close()
