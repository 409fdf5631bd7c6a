"""Malformed tokens over real HTTP: a key of the other family, a key of the wrong curve, signatures of any
bytes. Each is a 401 ``auth.unauthorized`` with a logged reason code, never a 500 (issue 11)."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import httpx
import pytest

from service.auth.trust import SANDBOX_ISSUER
from service.auth.verifier import MAX_TOKEN_LIFETIME_S
from tests import jwt_tools as jt
from tests.conftest import StartService
from tests.reference_data import load
from tests.servers import RunningService
from tests.test_auth import SERVICE_PATH, Keys, assert_rejected, call, trust

SANDBOX_JWKS = load(jt.SANDBOX_JWKS_PATH)
SANDBOX_KID = SANDBOX_JWKS["keys"][0]["kid"]


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def secured(start_service: StartService, keys: Keys) -> RunningService:
    return start_service(auth_required=True, trusted_issuers=trust(keys))


def rejection_reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    messages = [r.getMessage() for r in caplog.records if r.name == "calcinosis_cds.auth"]
    return [m.split("reason=")[1].split()[0] for m in messages if "reason=" in m]


def other_family(keys: Keys, target: str, alg: str) -> jt.SigningKey:
    """A real key of the family ``alg`` names, presenting the kid of the trusted key ``target``."""
    signer = keys.rsa if alg.startswith("RS") else keys.ec
    return jt.SigningKey(signer.private, target, alg)


@pytest.mark.parametrize(
    ("alg", "kid"),
    [("RS384", "ec-1"), ("ES384", "rsa-1")],
    ids=["RS384 token, trusted EC kid", "ES384 token, trusted RSA kid"],
)
def test_algorithm_of_the_other_family_is_401_with_a_reason(
    secured: RunningService,
    client: httpx.Client,
    keys: Keys,
    alg: str,
    kid: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    signed = jt.token(other_family(keys, kid, alg), jt.claims(secured.url + SERVICE_PATH))
    assert_rejected(call(client, secured, "Bearer " + signed))
    assert rejection_reasons(caplog) == ["key-algorithm-mismatch"]


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
@pytest.mark.parametrize("length", [0, 1, 64, 96, 97, 256, 513])
@pytest.mark.parametrize("kid", ["ec-1", "rsa-1"])
def test_any_bytes_as_signature_is_401(
    secured: RunningService, client: httpx.Client, alg: str, length: int, kid: str
) -> None:
    forged = jt.with_signature(alg, kid, jt.claims(secured.url + SERVICE_PATH), os.urandom(length))
    assert_rejected(call(client, secured, "Bearer " + forged))


def test_es256_token_against_a_p384_key_is_401(
    start_service: StartService, client: httpx.Client, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    service = start_service(auth_required=True, trusted_issuers=trust(keys, algorithms=["ES256", "ES384"]))
    p256 = jt.ec_key("ec-1", curve="P-256")
    signed = jt.token(p256, jt.claims(service.url + SERVICE_PATH))
    assert_rejected(call(client, service, "Bearer " + signed))
    assert rejection_reasons(caplog) == ["key-algorithm-mismatch"]


def sandbox_settings() -> dict[str, Any]:
    """The README's set-up for the official CDS Hooks sandbox (development, inline key, jku allowed)."""
    jku = SANDBOX_ISSUER + "/.well-known/jwks.json"
    return {"auth_required": True, "trusted_issuers": {SANDBOX_ISSUER: {"jwks": SANDBOX_JWKS, "jku": [jku]}}}


def test_rs384_token_naming_the_sandbox_kid_is_401_in_the_readme_set_up(
    start_service: StartService, client: httpx.Client, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    service = start_service(**sandbox_settings())
    audience = service.url + SERVICE_PATH
    payload = jt.claims(audience, iss=SANDBOX_ISSUER)
    forged = jt.token(jt.SigningKey(keys.rsa.private, SANDBOX_KID, "RS384"), payload)
    assert_rejected(call(client, service, "Bearer " + forged))
    junk = jt.with_signature("RS384", SANDBOX_KID, jt.claims(audience, iss=SANDBOX_ISSUER), b"\x00" * 256)
    assert_rejected(call(client, service, "Bearer " + junk))
    assert rejection_reasons(caplog) == ["key-algorithm-mismatch"] * 2


NOT_NUMERIC_DATES: dict[str, dict[str, Any]] = {
    "iat a string": {"iat": "yesterday"},
    "iat a list": {"iat": [1]},
    "iat NaN": {"iat": float("nan")},
    "iat true": {"iat": True},
    "exp true": {"exp": True},
}


@pytest.mark.parametrize("claim", list(NOT_NUMERIC_DATES), ids=list(NOT_NUMERIC_DATES))
def test_iat_and_exp_that_are_not_numbers_are_401(
    secured: RunningService, client: httpx.Client, keys: Keys, claim: str
) -> None:
    signed = jt.token(keys.ec, jt.claims(secured.url + SERVICE_PATH, **NOT_NUMERIC_DATES[claim]))
    assert_rejected(call(client, secured, "Bearer " + signed))


def test_exp_beyond_the_maximum_lifetime_is_401(
    secured: RunningService, client: httpx.Client, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    # A jti must be remembered until its token expires: a token valid for ages cannot be used once only.
    caplog.set_level(logging.INFO)
    audience = secured.url + SERVICE_PATH
    for exp in (int(time.time()) + MAX_TOKEN_LIFETIME_S + 120, 10**30):
        assert_rejected(call(client, secured, "Bearer " + jt.token(keys.ec, jt.claims(audience, exp=exp))))
    assert rejection_reasons(caplog) == ["exp-too-far"] * 2
