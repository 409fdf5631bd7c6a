"""Chrome's Private Network Access: before the hosted https sandbox (a public page) may call the service on
localhost or a private address, Chrome sends a preflight with ``Access-Control-Request-Private-Network:
true`` (https://wicg.github.io/private-network-access/). In development the service answers it; in
production only when ``CDS_CORS_ALLOW_PRIVATE_NETWORK`` says so (issue 14: it was a 400)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import StartService
from tests.servers import RunningService
from tests.settings_data import production_settings

PREFLIGHT = {
    "Origin": "https://sandbox.cds-hooks.org",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
    "Access-Control-Request-Private-Network": "true",
}
HOOK = "/cds-services/calcinosis-cutis-risk"


def preflight(url: str) -> httpx.Response:
    return httpx.options(url + HOOK, headers=PREFLIGHT, timeout=30)


def test_development_answers_a_private_network_preflight(service: RunningService) -> None:
    response = preflight(service.url)
    assert response.status_code == 200
    assert response.headers["access-control-allow-private-network"] == "true"
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(("allow", "status"), [(None, 400), (True, 200)], ids=["default", "configured"])
def test_production_refuses_it_unless_configured(tmp_path: Path, allow: bool | None, status: int) -> None:
    overrides = {} if allow is None else {"cors_allow_private_network": allow}
    settings = production_settings(
        database_url=f"sqlite:///{tmp_path / 'cds.db'}", database_auto_migrate=True, **overrides
    )
    with RunningService(settings) as running:
        response = preflight(running.url)
    assert response.status_code == status
    assert ("access-control-allow-private-network" in response.headers) is bool(allow)


def test_development_can_turn_it_off(start_service: StartService) -> None:
    assert preflight(start_service(cors_allow_private_network=False).url).status_code == 400
