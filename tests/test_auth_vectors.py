"""Fixed test vectors: the CDS Hooks 2.0.1 example JWT and key set, and the trust settings rules."""

from __future__ import annotations

import asyncio
import json

import httpx
import jwt
import pytest
from pydantic import ValidationError

from service.auth.jwks import KeySets
from service.auth.trust import SANDBOX_ISSUER, AuthError, IssuerTrust
from service.auth.verifier import Verifier
from service.metrics import Metrics
from service.settings import Environment, Settings
from service.store.engine import create_engine
from service.store.replay_table import DatabaseReplayCache
from service.store.schema import upgrade
from tests.jwt_tools import SANDBOX_JWKS_PATH
from tests.reference_data import EXAMPLES, load

SPEC = EXAMPLES / "spec-2.0.1"
EXAMPLE_JWT = (SPEC / "example-jwt.txt").read_text().strip()
EXAMPLE_AUDIENCE = "https://cds.example.org/cds-services/some-service"
EXAMPLE_ISSUER = "https://fhir-ehr.example.com/"


def test_the_spec_example_signature_verifies_with_its_published_key() -> None:
    key = jwt.PyJWK.from_dict(load(SPEC / "23-jwks-public.json")["keys"][0])
    claims = jwt.decode(
        EXAMPLE_JWT, key.key, algorithms=["ES384"], audience=EXAMPLE_AUDIENCE, options={"verify_exp": False}
    )
    assert claims == load(SPEC / "22-jwt-payload.json")
    assert jwt.get_unverified_header(EXAMPLE_JWT) == load(SPEC / "21-jwt-header.json")


def _verify(trust: IssuerTrust, token: str, audience: str) -> None:
    async def run() -> None:
        engine = create_engine("sqlite://")  # in memory: these tokens fail before the replay check
        await upgrade(engine)
        try:
            async with httpx.AsyncClient() as http:
                keys = KeySets(http, 60, 1, production=False)
                replay = DatabaseReplayCache(engine)
                verifier = Verifier({EXAMPLE_ISSUER: trust}, keys, replay, 30, True, Metrics())
                await verifier.check("Bearer " + token, audience)
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_the_spec_example_is_rejected_as_expired_by_our_verifier() -> None:
    trust = IssuerTrust(jwks=load(SPEC / "23-jwks-public.json"))
    with pytest.raises(AuthError) as info:
        _verify(trust, EXAMPLE_JWT, EXAMPLE_AUDIENCE)
    assert info.value.reason == "expired"


def test_the_spec_example_with_a_tampered_signature_fails_on_the_signature() -> None:
    head, payload, signature = EXAMPLE_JWT.split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    with pytest.raises(AuthError) as info:
        _verify(
            IssuerTrust(jwks=load(SPEC / "23-jwks-public.json")),
            f"{head}.{payload}.{flipped}",
            EXAMPLE_AUDIENCE,
        )
    assert info.value.reason == "bad-signature"


def test_the_spec_example_jku_is_not_followed_when_not_allowlisted() -> None:
    # The example header names jku https://fhir-ehr.example.com/jwk_uri; with no inline key for its kid
    # and no allowlist, it is refused before any fetch (the httpx client would fail on a fetch here).
    with pytest.raises(AuthError) as info:
        _verify(IssuerTrust(jwks={"keys": []}), EXAMPLE_JWT, EXAMPLE_AUDIENCE)
    assert info.value.reason == "jku-not-allowed"


def test_the_sandbox_key_set_loads_as_inline_trust() -> None:
    sandbox = IssuerTrust(
        jwks=load(SANDBOX_JWKS_PATH),
        jku=(SANDBOX_ISSUER + "/.well-known/jwks.json",),
    )
    assert sandbox.algorithms == ("ES384", "RS384")


SAFE = {
    "environment": Environment.PRODUCTION,
    "fhir_server_allowlist": ["https://ehr.example.org/fhir"],
    "public_base_url": "https://cds.example.org",
    "trusted_issuers": {"https://ehr.example.org/": {"jwks_url": "https://ehr.example.org/jwks.json"}},
    "patient_hash_key": "k" * 40,
}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"trusted_issuers": {}}, "CDS_TRUSTED_ISSUERS is required in production"),
        ({"auth_required": False}, "CDS_AUTH_REQUIRED cannot be false"),
        ({"trusted_issuers": {SANDBOX_ISSUER: {"jwks": {"keys": []}}}}, "must not be trusted in production"),
        ({"trusted_issuers": {"https://x/": {"jwks_url": "http://127.0.0.1:9/jwks"}}}, "https only"),
    ],
)
def test_production_refuses_unsafe_trust(override: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**{**SAFE, **override})


def test_production_trust_settings_are_accepted_and_require_auth() -> None:
    assert Settings(**SAFE).requires_auth


@pytest.mark.parametrize(
    "trust",
    [
        {},
        {"jwks_url": "http://ehr.example.org/jwks"},
        {"jku": ["ftp://x/jwks"]},
        {"jwks": {"no": "keys"}},
        {"algorithms": ["HS256"]},
    ],
)
def test_malformed_issuer_trust_is_refused(trust: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        IssuerTrust.model_validate(trust)


def test_trusted_issuers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CDS_TRUSTED_ISSUERS",
        json.dumps({"https://ehr.example.org/": {"jwks_url": "https://ehr.example.org/k"}}),
    )
    assert list(Settings().trusted_issuers) == ["https://ehr.example.org/"]


def test_production_needs_a_patient_hash_key() -> None:
    unsafe = {**SAFE, "patient_hash_key": "short"}
    with pytest.raises(ValidationError, match="CDS_PATIENT_HASH_KEY"):
        Settings(**unsafe)
