"""What a production service shows besides the CDS Hooks API: /metrics only behind its own bearer token, the
API docs only when enabled. Development keeps both open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tests.conftest import StartService
from tests.servers import RunningService
from tests.settings_data import production_settings

TOKEN = "metrics-token-" + "x" * 40
DOCS = ("/docs", "/redoc", "/openapi.json")


def production(tmp_path: Path, **overrides: Any) -> RunningService:
    return RunningService(
        production_settings(
            database_url=f"sqlite:///{tmp_path / 'cds.db'}", database_auto_migrate=True, **overrides
        )
    )


def test_production_serves_no_metrics_without_a_token_and_no_docs(
    tmp_path: Path, client: httpx.Client
) -> None:
    with production(tmp_path) as service:
        assert client.get(service.url + "/healthz").status_code == 200
        metrics = client.get(service.url + "/metrics")
        assert metrics.status_code == 404
        assert metrics.json()["issue"][0]["details"]["coding"][0]["code"] == "http.not-found"
        for path in DOCS:
            assert client.get(service.url + path).status_code == 404, path


def test_production_metrics_need_their_bearer_token(tmp_path: Path, client: httpx.Client) -> None:
    with production(tmp_path, metrics_token=TOKEN) as service:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            refused = client.get(service.url + "/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"] == "Bearer"
            assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "auth.unauthorized"
            assert "cds_http_requests_total" not in refused.text
        served = client.get(service.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert served.status_code == 200
        assert "cds_http_requests_total" in served.text


def test_production_docs_only_when_enabled(tmp_path: Path, client: httpx.Client) -> None:
    with production(tmp_path, docs_enabled=True) as service:
        for path in DOCS:
            assert client.get(service.url + path).status_code == 200, path


def test_development_serves_metrics_and_docs_and_a_token_still_guards_metrics(
    start_service: StartService, client: httpx.Client
) -> None:
    open_service = start_service()
    assert client.get(open_service.url + "/metrics").status_code == 200
    for path in DOCS:
        assert client.get(open_service.url + path).status_code == 200, path
    guarded = start_service(metrics_token="dev-token", docs_enabled=False)
    assert client.get(guarded.url + "/metrics").status_code == 401
    assert (
        client.get(guarded.url + "/metrics", headers={"Authorization": "Bearer dev-token"}).status_code == 200
    )
    assert client.get(guarded.url + "/openapi.json").status_code == 404


def test_production_refuses_a_short_metrics_token() -> None:
    with pytest.raises(ValidationError, match="CDS_METRICS_TOKEN"):
        production_settings(metrics_token="short")
