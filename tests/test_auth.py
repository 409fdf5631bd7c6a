"""CDS Hooks JWT authentication over real HTTP: valid tokens pass, every attack in the table gets 401."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests import fhir_data as fd
from tests import jwt_tools as jt
from tests.conftest import StartService
from tests.local_http import JsonServer
from tests.servers import RedisServer, RunningService

SERVICE_PATH = "/cds-services/calcinosis-cutis-risk"


class Keys:
    def __init__(self) -> None:
        self.ec = jt.ec_key("ec-1")
        self.rsa = jt.rsa_key("rsa-1")
        self.impostor = jt.ec_key("ec-1")  # another key claiming the same kid
        self.stranger = jt.ec_key("stranger")


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def trust(keys: Keys, **extra: Any) -> dict[str, Any]:
    return {jt.ISSUER: {"jwks": jt.jwks(keys.ec, keys.rsa), **extra}}


@pytest.fixture
def secured(start_service: StartService, keys: Keys) -> RunningService:
    return start_service(
        auth_required=True, trusted_issuers=trust(keys), fhir_server_allowlist=["http://127.0.0.1:9/fhir"]
    )


def call(client: httpx.Client, service: RunningService, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization else {}
    body = fd.request_body(prefetch=fd.full_prefetch("p1", []))
    return client.post(service.url + SERVICE_PATH, json=body, headers=headers)


def signed_by(key: jt.SigningKey, service: RunningService) -> str:
    """A valid Authorization header for the hook of ``service``, signed by ``key``."""
    return "Bearer " + jt.token(key, jt.claims(service.url + SERVICE_PATH))


def assert_rejected(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    issue = response.json()["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "auth.unauthorized"
    assert issue["details"]["text"] == "authorization failed"  # nothing about why


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_valid_es384_and_rs384_tokens_are_accepted(
    secured: RunningService, client: httpx.Client, keys: Keys, kind: str
) -> None:
    key = keys.ec if kind == "ec" else keys.rsa
    response = call(client, secured, "Bearer " + jt.token(key, jt.claims(secured.url + SERVICE_PATH)))
    assert (response.status_code, response.json()) == (200, {"cards": []})


def test_audience_may_be_an_array(secured: RunningService, client: httpx.Client, keys: Keys) -> None:
    audience = ["https://elsewhere.example/x", secured.url + SERVICE_PATH]
    assert call(client, secured, "Bearer " + jt.token(keys.ec, jt.claims(audience))).status_code == 200


def test_discovery_is_protected_and_preflight_is_not(
    secured: RunningService, client: httpx.Client, keys: Keys
) -> None:
    discovery = secured.url + "/cds-services"
    assert_rejected(client.get(discovery))
    good = client.get(
        discovery, headers={"Authorization": "Bearer " + jt.token(keys.ec, jt.claims(discovery))}
    )
    assert good.status_code == 200
    preflight = client.options(
        secured.url + SERVICE_PATH,
        headers={"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200


Attack = Callable[[Keys, str], str | None]
NOW = int(time.time())
ATTACKS: dict[str, Attack] = {
    "missing token": lambda k, aud: None,
    "garbage": lambda k, aud: "Bearer not.a.jwt",
    "not bearer": lambda k, aud: "Basic dXNlcjpwYXNz",
    "alg none": lambda k, aud: "Bearer " + jt.unsigned(jt.claims(aud), k.ec.kid),
    "HS256 with the RSA public key as secret": lambda k, aud: (
        "Bearer " + jt.hs256_with_public_key(k.rsa, jt.claims(aud))
    ),
    "wrong aud": lambda k, aud: (
        "Bearer " + jt.token(k.ec, jt.claims("https://cds.example.org/cds-services/x"))
    ),
    "discovery token replayed on the hook": lambda k, aud: (
        "Bearer " + jt.token(k.ec, jt.claims(aud.removesuffix(SERVICE_PATH) + "/cds-services"))
    ),
    "expired": lambda k, aud: "Bearer " + jt.token(k.ec, jt.claims(aud, iat=NOW - 900, exp=NOW - 600)),
    "iat in the future": lambda k, aud: (
        "Bearer " + jt.token(k.ec, jt.claims(aud, iat=NOW + 600, exp=NOW + 900))
    ),
    "unknown iss": lambda k, aud: "Bearer " + jt.token(k.ec, jt.claims(aud, iss="https://evil.example/")),
    "unknown kid": lambda k, aud: "Bearer " + jt.token(k.stranger, jt.claims(aud)),
    "tampered payload": lambda k, aud: (
        "Bearer " + jt.tampered(jt.token(k.ec, jt.claims(aud)), iss=jt.ISSUER, sub="admin")
    ),
    "other key with the same kid": lambda k, aud: "Bearer " + jt.token(k.impostor, jt.claims(aud)),
    "missing jti": lambda k, aud: "Bearer " + jt.token(k.ec, jt.claims(aud, jti=None)),
    "missing exp": lambda k, aud: "Bearer " + jt.token(k.ec, jt.claims(aud, exp=None)),
    "wrong typ": lambda k, aud: "Bearer " + jt.token(k.ec, jt.claims(aud), typ="at+jwt"),
    "RS256 not allowed by default": lambda k, aud: "Bearer " + jwt_rs256(k, aud),
}


def jwt_rs256(keys: Keys, audience: str) -> str:
    return jt.token(jt.SigningKey(keys.rsa.private, keys.rsa.kid, "RS256"), jt.claims(audience))


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_attacks_get_401(secured: RunningService, client: httpx.Client, keys: Keys, attack: str) -> None:
    assert_rejected(call(client, secured, ATTACKS[attack](keys, secured.url + SERVICE_PATH)))


def test_replayed_jti_gets_401(secured: RunningService, client: httpx.Client, keys: Keys) -> None:
    header = "Bearer " + jt.token(keys.ec, jt.claims(secured.url + SERVICE_PATH))
    assert call(client, secured, header).status_code == 200
    assert_rejected(call(client, secured, header))


def test_jku_outside_the_allowlist_is_never_fetched(
    start_service: StartService, client: httpx.Client, keys: Keys
) -> None:
    with JsonServer(jt.jwks(keys.stranger)) as attacker:
        service = start_service(auth_required=True, trusted_issuers=trust(keys))
        forged = jt.token(keys.stranger, jt.claims(service.url + SERVICE_PATH), jku=attacker.url)
        assert_rejected(call(client, service, "Bearer " + forged))
        assert attacker.hits == 0


def test_allowlisted_jku_is_fetched_once_and_cached(
    start_service: StartService, client: httpx.Client, keys: Keys
) -> None:
    with JsonServer(jt.jwks(keys.stranger)) as issuer_keys:
        service = start_service(auth_required=True, trusted_issuers={jt.ISSUER: {"jku": [issuer_keys.url]}})
        for _ in range(3):
            signed = jt.token(keys.stranger, jt.claims(service.url + SERVICE_PATH), jku=issuer_keys.url)
            assert call(client, service, "Bearer " + signed).status_code == 200
        assert issuer_keys.hits == 1


def test_unknown_kid_refreshes_the_key_set_at_most_once_per_interval(
    start_service: StartService, client: httpx.Client, keys: Keys
) -> None:
    with JsonServer(jt.jwks(keys.ec)) as issuer_keys:
        service = start_service(
            auth_required=True,
            trusted_issuers={jt.ISSUER: {"jwks_url": issuer_keys.url}},
            jwks_refresh_interval_s=60,
        )
        assert call(client, service, signed_by(keys.ec, service)).status_code == 200
        for _ in range(3):
            assert_rejected(call(client, service, signed_by(keys.stranger, service)))
        assert issuer_keys.hits == 1  # the first fetch; the unknown kid is inside the refresh interval


def test_key_rotation_is_picked_up_after_the_interval(
    start_service: StartService, client: httpx.Client, keys: Keys
) -> None:
    with JsonServer(jt.jwks(keys.ec)) as issuer_keys:
        service = start_service(
            auth_required=True,
            trusted_issuers={jt.ISSUER: {"jwks_url": issuer_keys.url}},
            jwks_refresh_interval_s=0,
        )
        assert call(client, service, signed_by(keys.ec, service)).status_code == 200
        issuer_keys.document = jt.jwks(keys.ec, keys.stranger)
        assert call(client, service, signed_by(keys.stranger, service)).status_code == 200
        assert issuer_keys.hits == 2


def test_tenant_allowlist(start_service: StartService, client: httpx.Client, keys: Keys) -> None:
    service = start_service(auth_required=True, trusted_issuers=trust(keys, tenants=["t-1"]))
    audience = service.url + SERVICE_PATH
    assert (
        call(client, service, "Bearer " + jt.token(keys.ec, jt.claims(audience, tenant="t-1"))).status_code
        == 200
    )
    assert_rejected(call(client, service, "Bearer " + jt.token(keys.ec, jt.claims(audience, tenant="t-2"))))
    assert_rejected(call(client, service, "Bearer " + jt.token(keys.ec, jt.claims(audience))))


def test_development_without_auth_still_verifies_a_presented_token(
    start_service: StartService, client: httpx.Client, keys: Keys
) -> None:
    service = start_service(trusted_issuers=trust(keys))
    assert call(client, service, None).status_code == 200
    assert_rejected(
        call(client, service, "Bearer " + jt.token(keys.stranger, jt.claims(service.url + SERVICE_PATH)))
    )


def test_rejections_log_reason_and_ids_but_never_the_token(
    secured: RunningService, client: httpx.Client, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    signed = jt.token(
        keys.ec,
        jt.claims(
            secured.url + SERVICE_PATH,
            jti="jti-canary-42",
            exp=int(time.time()) - 120,
            iat=int(time.time()) - 600,
        ),
    )
    assert_rejected(call(client, secured, "Bearer " + signed))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "reason=expired" in logged
    assert "jti=jti-canary-42" in logged
    assert "kid=ec-1" in logged
    assert signed not in logged
    assert signed.split(".")[2] not in logged


def test_replay_cache_in_redis_is_shared_by_replicas(
    start_service: StartService, client: httpx.Client, keys: Keys, redis_server: RedisServer
) -> None:
    shared = {"auth_required": True, "trusted_issuers": trust(keys), "redis_url": redis_server.url}
    first, second = start_service(**shared), start_service(**shared)
    # Both replicas sit behind one public URL, so one token is valid for both until its jti is used.
    audience = [first.url + SERVICE_PATH, second.url + SERVICE_PATH]
    header = "Bearer " + jt.token(keys.ec, jt.claims(audience))
    assert call(client, first, header).status_code == 200
    assert_rejected(call(client, second, header))
