"""Real keys and real JWTs for the authentication tests (no mocks): EC P-384 and RSA keys made per run."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://ehr.test.example/"
# The official CDS Hooks sandbox's public key set (cds-hooks/sandbox, Apache-2.0; see NOTICE.md).
SANDBOX_JWKS_PATH = Path(__file__).parent / "data" / "sandbox-jwks.json"
CURVES = {"P-256": (ec.SECP256R1, "ES256"), "P-384": (ec.SECP384R1, "ES384")}


@dataclass(frozen=True)
class SigningKey:
    private: Any
    kid: str
    alg: str

    @property
    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        converter = ECAlgorithm if self.alg.startswith("ES") else RSAAlgorithm
        data: dict[str, Any] = json.loads(converter.to_jwk(public))
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        key = self.private.public_key()
        return bytes(
            key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )


def ec_key(kid: str = "ec-1", curve: str = "P-384") -> SigningKey:
    kind, alg = CURVES[curve]
    return SigningKey(ec.generate_private_key(kind()), kid, alg)


def rsa_key(kid: str = "rsa-1", bits: int = 2048) -> SigningKey:
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=bits), kid, "RS384")


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [k.jwk for k in keys]}


def claims(audience: str | list[str], **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def token(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    headers = {"kid": key.kid, "typ": "JWT", **header}
    return jwt.encode(payload, key.private, algorithm=key.alg, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload: dict[str, Any], kid: str) -> str:
    """``alg: none``."""
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."


def hs256_with_public_key(key: SigningKey, payload: dict[str, Any]) -> str:
    """The classic confusion attack: HS256 'signed' with the RSA public key as the HMAC secret."""
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def with_signature(alg: str, kid: str, payload: dict[str, Any], signature: bytes) -> str:
    """A token naming ``alg`` and ``kid`` whose signature is ``signature``, whatever those bytes are."""
    header = {"alg": alg, "typ": "JWT", "kid": kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}.{_b64(signature)}"


def tampered(signed: str, **changes: Any) -> str:
    """Same header and signature, payload changed."""
    head, payload, signature = signed.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{head}.{_b64(json.dumps({**data, **changes}).encode())}.{signature}"
