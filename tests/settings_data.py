"""The smallest settings production accepts, for tests that need a production service."""

from __future__ import annotations

from typing import Any

from service.settings import Environment, Settings


def production_settings(**overrides: Any) -> Settings:
    return Settings(
        environment=Environment.PRODUCTION,
        fhir_server_allowlist=["https://ehr.example.org/fhir"],
        public_base_url="https://cds.example.org",
        trusted_issuers={"https://ehr.example.org/": {"jwks_url": "https://ehr.example.org/jwks.json"}},
        patient_hash_key="k" * 40,
        **overrides,
    )
