"""Settings come from CDS_* variables; production refuses unsafe ones."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.settings import Environment, Settings
from tests.settings_data import production_settings


def test_defaults_are_development(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CDS_ENVIRONMENT", "CDS_FHIR_SERVER_ALLOWLIST", "CDS_HOOK_BUDGET_S"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.fhir_server_allowlist == []
    assert settings.hook_budget_s == 4.0
    assert settings.max_body_bytes == 32 * 1024 * 1024


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_FHIR_SERVER_ALLOWLIST", '["https://ehr.example.org/fhir"]')
    monkeypatch.setenv("CDS_HOOK_BUDGET_S", "1.5")
    settings = Settings()
    assert settings.fhir_server_allowlist == ["https://ehr.example.org/fhir"]
    assert settings.hook_budget_s == 1.5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "CDS_FHIR_SERVER_ALLOWLIST is required in production"),
        ({"fhir_server_allowlist": ["http://ehr.example.org/fhir"]}, "only https"),
        ({"fhir_server_allowlist": ["https://ehr.example.org/fhir"]}, "CDS_PUBLIC_BASE_URL is required"),
    ],
)
def test_production_refuses_unsafe_settings(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(environment=Environment.PRODUCTION, **overrides)


def test_production_accepts_safe_settings() -> None:
    settings = production_settings()
    assert settings.environment is Environment.PRODUCTION


def test_malformed_allowlist_entry_is_refused() -> None:
    with pytest.raises(ValidationError, match="userinfo"):
        Settings(fhir_server_allowlist=["https://user@ehr.example.org/fhir"])
