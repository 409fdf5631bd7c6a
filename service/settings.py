"""Service settings, read from ``CDS_*`` environment variables (pydantic-settings).

Settings are built once and handed to :func:`service.api.app.create_app`; nothing reads the environment at
import time. Production refuses settings that would be unsafe rather than starting with them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, HttpUrl, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.auth.key_policy import load_key_set
from service.auth.trust import SANDBOX_ISSUER, IssuerTrust
from service.fhir.outbound import normalize_base


class Environment(StrEnum):
    """Deployment environment; production turns every safety default on."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


MEGABYTE = 1024 * 1024
MIN_HASH_KEY = 32
DEVELOPMENT_HASH_KEY = b"calcinosis-cds development key: not secret, never use in production"


class Settings(BaseSettings):
    """All knobs of the service. Each field maps to ``CDS_<FIELD_NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CDS_", frozen=True, extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    public_base_url: HttpUrl | None = Field(
        default=None, description="URL at which EHRs reach this service (JWT audience, absolute links)."
    )
    fhir_server_allowlist: list[str] = Field(
        default_factory=list,
        description="URL prefixes the service may call. Empty means any, in development only.",
    )
    fhir_timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    hook_budget_s: Annotated[float, Field(gt=0, le=60)] = 4.0
    fhir_page_size: Annotated[int, Field(ge=1, le=5000)] = 1000
    fhir_max_pages: Annotated[int, Field(ge=1, le=1000)] = 20
    fhir_max_response_bytes: Annotated[int, Field(ge=1024)] = 8 * MEGABYTE
    fhir_max_entries_per_key: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    max_body_bytes: Annotated[int, Field(ge=1024)] = 32 * MEGABYTE
    max_feedback_bytes: Annotated[int, Field(ge=1024)] = MEGABYTE
    header_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_header_bytes: Annotated[int, Field(ge=1024, le=MEGABYTE)] = 64 * 1024
    keep_alive_timeout_s: Annotated[int, Field(ge=1, le=300)] = 5
    limit_concurrency: Annotated[int, Field(ge=1)] = 256
    cors_allow_origins: list[str] = Field(default_factory=lambda: ["*"])
    auth_required: bool | None = Field(
        default=None,
        description="Require a CDS Hooks JWT. Always on in production; off by default in development.",
    )
    trusted_issuers: dict[str, IssuerTrust] = Field(default_factory=dict)
    redis_url: str | None = Field(default=None, description="jti replay cache; in the database when unset.")
    jwt_leeway_s: Annotated[float, Field(ge=0, le=300)] = 30.0
    jwks_refresh_interval_s: Annotated[float, Field(ge=0, le=3600)] = 60.0
    jwks_timeout_s: Annotated[float, Field(gt=0, le=30)] = 2.0
    database_url: str = Field(
        default="sqlite:///./calcinosis-cds.db", description="SQLite (default) or PostgreSQL."
    )
    database_auto_migrate: bool | None = Field(
        default=None, description="Migrate on start; default on in development."
    )
    patient_hash_key: SecretStr | None = Field(
        default=None, description="HMAC key for patient ids in the history."
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token for GET /metrics; without it, production does not serve it."
    )
    docs_enabled: bool | None = Field(
        default=None, description="Serve /docs, /redoc, /openapi.json; default on in development only."
    )
    suppression_days: Annotated[int, Field(ge=0, le=365)] = 30
    suppression_days_by_rule: dict[str, Annotated[int, Field(ge=0, le=365)]] = Field(default_factory=dict)
    suppression_read_timeout_s: Annotated[float, Field(gt=0, le=10)] = 0.05
    suppression_read_deadline_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    suppression_refresh_s: Annotated[float, Field(gt=0, le=3600)] = 2.0
    history_queue_size: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    history_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    history_drain_timeout_s: Annotated[float, Field(ge=0, le=300)] = 10.0
    cors_allow_private_network: bool | None = Field(
        default=None,
        description="Answer Private Network Access preflights (a public https page calling this service on a "
        "private address or localhost, e.g. the hosted CDS Hooks sandbox). Default on in development only.",
    )

    @property
    def migrates_on_start(self) -> bool:
        if self.database_auto_migrate is None:
            return self.environment is Environment.DEVELOPMENT
        return self.database_auto_migrate

    def suppression_window_days(self, rule_id: str) -> int:
        return self.suppression_days_by_rule.get(rule_id, self.suppression_days)

    @property
    def longest_suppression_days(self) -> int:
        """The longest window of any rule: older overrides hold nothing back."""
        return max([self.suppression_days, *self.suppression_days_by_rule.values()])

    def hash_key(self) -> bytes:
        """The patient-hash key; a fixed, logged-as-insecure key in development when none is set."""
        if self.patient_hash_key is not None:
            return self.patient_hash_key.get_secret_value().encode()
        return DEVELOPMENT_HASH_KEY

    @property
    def serves_docs(self) -> bool:
        if self.docs_enabled is None:
            return self.environment is Environment.DEVELOPMENT
        return self.docs_enabled

    @property
    def serves_open_metrics(self) -> bool:
        """``/metrics`` without a token: development only."""
        return self.environment is Environment.DEVELOPMENT

    @property
    def answers_private_network(self) -> bool:
        if self.cors_allow_private_network is None:
            return self.environment is Environment.DEVELOPMENT
        return self.cors_allow_private_network

    @property
    def requires_auth(self) -> bool:
        return self.environment is Environment.PRODUCTION or bool(self.auth_required)

    @model_validator(mode="after")
    def _check_safe(self) -> Self:
        bases = [normalize_base(entry) for entry in self.fhir_server_allowlist]
        for issuer, trust in self.trusted_issuers.items():
            # Inline keys are the operator's own configuration: a refused one stops the start, naming it.
            refused = load_key_set(trust.jwks, self.environment is Environment.PRODUCTION)[1]
            if refused:
                raise ValueError(f"CDS_TRUSTED_ISSUERS: issuer {issuer}: {refused[0]}")
        if self.environment is Environment.PRODUCTION:
            if not self.fhir_server_allowlist:
                raise ValueError("CDS_FHIR_SERVER_ALLOWLIST is required in production")
            insecure = [str(base) for base in bases if base.scheme != "https"]
            if insecure:
                raise ValueError(f"production allows only https FHIR servers, not {insecure}")
            if self.public_base_url is None:
                raise ValueError("CDS_PUBLIC_BASE_URL is required in production")
            if self.auth_required is False:
                raise ValueError("CDS_AUTH_REQUIRED cannot be false in production")
            if self.patient_hash_key is None or len(self.patient_hash_key.get_secret_value()) < MIN_HASH_KEY:
                raise ValueError(
                    f"CDS_PATIENT_HASH_KEY of at least {MIN_HASH_KEY} characters is required in production"
                )
            if self.metrics_token is not None and len(self.metrics_token.get_secret_value()) < MIN_HASH_KEY:
                raise ValueError(
                    f"CDS_METRICS_TOKEN must have at least {MIN_HASH_KEY} characters in production"
                )
            if not self.trusted_issuers:
                raise ValueError("CDS_TRUSTED_ISSUERS is required in production")
            plain = [
                u
                for trust in self.trusted_issuers.values()
                for u in trust.key_set_urls()
                if not u.startswith("https://")
            ]
            if plain:
                raise ValueError(f"production fetches key sets over https only, not {plain}")
            if SANDBOX_ISSUER in {iss.rstrip("/") for iss in self.trusted_issuers}:
                raise ValueError(
                    f"{SANDBOX_ISSUER} must not be trusted in production: its private key is public"
                )
        return self
