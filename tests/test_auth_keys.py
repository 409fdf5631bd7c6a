"""Which keys a trusted key set may hold (issue 11): no RSA under 2048 bits, no symmetric key, and in
production never the CDS Hooks sandbox's key (its private key is public) under any issuer name.

Inline key sets are the operator's configuration: a refused key stops the start with one line naming the
issuer and the kid (through the real console script). Fetched key sets leave the key out and log why; a
token naming it then fails as an unknown kid (through real HTTP).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.auth.jwks import KeySets
from service.auth.key_policy import SANDBOX_KEY_THUMBPRINTS, thumbprint
from service.auth.trust import AuthError, IssuerTrust
from tests import jwt_tools as jt
from tests.conftest import StartService
from tests.local_http import JsonServer
from tests.reference_data import load
from tests.servers import free_port
from tests.test_auth import SERVICE_PATH, assert_rejected, call, signed_by

SCRIPT = Path(sys.executable).parent / "calcinosis-cds"
SANDBOX_JWKS = load(jt.SANDBOX_JWKS_PATH)
# RFC 7638 § 3.1: the example RSA key and its thumbprint.
RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPe"
    "bWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicA"
    "taSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksI"
    "NHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def oct_key(kid: str) -> dict[str, Any]:
    return {"kty": "oct", "kid": kid, "k": base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()}


def weak_rsa_key(kid: str) -> jt.SigningKey:
    return jt.rsa_key(kid, bits=1024)


def test_thumbprint_of_the_rfc7638_example() -> None:
    assert thumbprint(RFC7638_KEY) == RFC7638_THUMBPRINT


def test_the_sandbox_thumbprint_is_the_one_of_its_published_key_set() -> None:
    # tests_sandbox checks that this copy is the key set the sandbox build itself publishes.
    assert {thumbprint(key) for key in SANDBOX_JWKS["keys"]} == SANDBOX_KEY_THUMBPRINTS


def serve(**env: str) -> subprocess.CompletedProcess[str]:
    """``calcinosis-cds serve`` with ``env``: a refused start exits at once, a started one times out."""
    command = [str(SCRIPT), "serve", "--host", "127.0.0.1", "--port", str(free_port())]
    database = f"sqlite:///{tempfile.mkdtemp(prefix='cds-')}/cds.db"
    environment = {**os.environ, "CDS_DATABASE_URL": database, **env}
    try:
        return subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the service started with a key it must refuse")


def refusal_line(result: subprocess.CompletedProcess[str], issuer: str, kid: str) -> str:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if issuer in line and f"kid={kid}" in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("key", "reason"),
    [(weak_rsa_key("weak-1").jwk, "weak-rsa-key"), (oct_key("weak-1"), "symmetric-key")],
    ids=["RSA 1024", "oct"],
)
def test_an_inline_key_set_with_a_weak_or_symmetric_key_stops_the_start(
    key: dict[str, Any], reason: str
) -> None:
    trusted = {jt.ISSUER: {"jwks": {"keys": [jt.ec_key("good").jwk, key]}}}
    result = serve(CDS_TRUSTED_ISSUERS=json.dumps(trusted))
    assert reason in refusal_line(result, jt.ISSUER, "weak-1")


def production_env(trusted: dict[str, Any]) -> dict[str, str]:
    return {
        "CDS_ENVIRONMENT": "production",
        "CDS_FHIR_SERVER_ALLOWLIST": '["https://ehr.example.org/fhir"]',
        "CDS_PUBLIC_BASE_URL": "https://cds.example.org",
        "CDS_PATIENT_HASH_KEY": "k" * 40,
        "CDS_DATABASE_AUTO_MIGRATE": "true",
        "CDS_TRUSTED_ISSUERS": json.dumps(trusted),
    }


def test_production_refuses_the_sandbox_key_under_another_issuer_name() -> None:
    # The same public key, renamed and stripped of its optional members: the thumbprint still finds it.
    sandbox = SANDBOX_JWKS["keys"][0]
    disguised = {"kty": "EC", "crv": "P-384", "x": sandbox["x"], "y": sandbox["y"], "kid": "ehr-2026"}
    issuer = "https://ehr.example.org/"
    for key in (sandbox, disguised):
        result = serve(**production_env({issuer: {"jwks": {"keys": [key]}}}))
        assert "sandbox-key" in refusal_line(result, issuer, key["kid"])


# PyJWT warns when the test signs with the 1024-bit key it then expects the service to refuse.
@pytest.mark.filterwarnings("ignore:The RSA key is 1024 bits")
def test_fetched_weak_and_symmetric_keys_are_left_out_and_logged(
    start_service: StartService, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    good, weak = jt.ec_key("good"), weak_rsa_key("weak-1")
    with JsonServer({"keys": [good.jwk, weak.jwk, oct_key("secret-1")]}) as issuer_keys:
        service = start_service(
            auth_required=True, trusted_issuers={jt.ISSUER: {"jwks_url": issuer_keys.url}}
        )
        assert_rejected(call(client, service, signed_by(weak, service)))
        secret = jt.with_signature("RS384", "secret-1", jt.claims(service.url + SERVICE_PATH), b"\x01" * 256)
        assert_rejected(call(client, service, "Bearer " + secret))
        assert call(client, service, signed_by(good, service)).status_code == 200
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "skipping key kid=weak-1 reason=weak-rsa-key" in logged
    assert "skipping key kid=secret-1 reason=symmetric-key" in logged
    assert logged.count("token rejected reason=unknown-kid") == 2


def test_production_leaves_a_fetched_sandbox_key_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    kid = SANDBOX_JWKS["keys"][0]["kid"]

    async def key_for(production: bool, url: str) -> None:
        async with httpx.AsyncClient() as http:
            await KeySets(http, 60, 5, production).key_for(IssuerTrust(jwks_url=url), kid, None)

    with JsonServer(SANDBOX_JWKS) as issuer_keys:
        asyncio.run(key_for(False, issuer_keys.url))  # development: the sandbox may be trusted
        with pytest.raises(AuthError) as refused:
            asyncio.run(key_for(True, issuer_keys.url))
    assert refused.value.reason == "unknown-kid"
    assert f"skipping key kid={kid} reason=sandbox-key" in caplog.text
