"""Tokens for playing the EHR against a service that requires them (``check --sign-key``), and a development
key pair to sign them with (``dev-keys``).

CDS Hooks 2.0 § Trusting CDS Clients: each call carries a JWT signed by the client, with ``iss``, ``aud``
(the exact URL called), ``exp``, ``iat`` and a fresh ``jti``, and a ``kid`` header naming the key in the
issuer's key set. ``dev-keys`` writes an EC P-384 key pair (ES384, as the spec's examples) with the RFC 7638
thumbprint as ``kid``, and prints the settings that make a service trust it. Development only: production
EHRs sign with their own keys.
"""

from __future__ import annotations

import json
import os
import shlex
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from service.auth.key_policy import thumbprint
from service.cli.sandbox import SandboxError

TOKEN_LIFETIME_S = 300  # as the CDS Hooks sandbox's own tokens
SIGNING_ALGORITHMS = {"EC": "ES384", "RSA": "RS384"}
PRIVATE_KEY_FILE = "signing-key.jwk"
PUBLIC_KEY_SET_FILE = "jwks.json"
DEFAULT_ISSUER = "https://dev-ehr.example.org"


@dataclass(frozen=True)
class TokenSigner:
    """Signs one short-lived token per call, for the URL called."""

    key: jwt.PyJWK
    kid: str
    issuer: str

    @classmethod
    def from_file(cls, path: Path, issuer: str) -> TokenSigner:
        """The private JWK in ``path``; a ``SandboxError`` naming the file when it cannot sign."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SandboxError(
                f"--sign-key {path}: cannot read a JSON Web Key ({type(exc).__name__})"
            ) from exc
        if not isinstance(data, dict) or "d" not in data:
            raise SandboxError(
                f"--sign-key {path}: not a private JSON Web Key (no 'd'); use {PRIVATE_KEY_FILE}"
            )
        alg = data.get("alg") or SIGNING_ALGORITHMS.get(str(data.get("kty")))
        try:
            key = jwt.PyJWK(data, algorithm=alg)
        except jwt.PyJWTError as exc:
            raise SandboxError(f"--sign-key {path}: cannot sign with this key: {exc}") from exc
        return cls(key, str(data.get("kid") or thumbprint(data)), issuer)

    def token(self, audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_S,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(
            claims, self.key.key, algorithm=self.key.algorithm_name, headers={"kid": self.kid, "typ": "JWT"}
        )

    def headers(self, audience: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(audience)}"}


def _exclusive_write(path: Path, text: str, mode: int) -> None:
    """Write a new file; an existing one is never overwritten (it may be a key in use)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise SandboxError(f"{path} exists; choose another --out-dir or remove it") from exc
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def _refuse_existing(*paths: Path) -> None:
    for path in paths:
        if path.exists():
            raise SandboxError(f"{path} exists; choose another --out-dir or remove it")


def make_dev_keys(folder: Path, issuer: str, service_url: str) -> str:
    """Write a new key pair into ``folder`` and return the instructions: the settings and a check command."""
    key_file, set_file = folder / PRIVATE_KEY_FILE, folder / PUBLIC_KEY_SET_FILE
    _refuse_existing(key_file, set_file)  # both before either is written: never half a pair
    private = ec.generate_private_key(ec.SECP384R1())
    public: dict[str, Any] = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    kid = thumbprint(public)
    public |= {"kid": kid, "alg": "ES384", "use": "sig"}
    secret: dict[str, Any] = ECAlgorithm.to_jwk(private, as_dict=True)
    secret |= {"kid": kid, "alg": "ES384", "use": "sig"}
    key_set = {"keys": [public]}
    folder.mkdir(parents=True, exist_ok=True)
    _exclusive_write(key_file, json.dumps(secret, indent=2) + "\n", 0o600)
    _exclusive_write(set_file, json.dumps(key_set, indent=2) + "\n", 0o644)
    trusted = json.dumps({issuer: {"jwks": key_set}}, separators=(",", ":"))
    check = [
        "calcinosis-cds", "check", "--fhir-server", "http://127.0.0.1:8090/fhir", "--patient", "demo-crest",
        "--service-url", service_url, "--sign-key", str(key_file), "--issuer", issuer,
    ]  # fmt: skip
    return "\n".join(
        [
            f"Wrote {key_file} (private: keep it out of version control) and {set_file} (public), kid {kid}.",
            "",
            "Settings for the service (development; the audience is CDS_PUBLIC_BASE_URL + the path called):",
            "export CDS_AUTH_REQUIRED=true",
            f"export CDS_PUBLIC_BASE_URL={shlex.quote(service_url)}",
            f"export CDS_TRUSTED_ISSUERS={shlex.quote(trusted)}",
            "",
            "Then play the EHR with signed calls:",
            shlex.join(check),
        ]
    )
