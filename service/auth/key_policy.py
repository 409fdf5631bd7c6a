"""Which public keys may verify a CDS Hooks JWT, and which algorithm each key may verify.

A key is refused when it is symmetric (``kty`` ``oct``: a shared secret has no place in a public key set),
RSA under 2048 bits (RFC 7518 § 3.3 requires at least 2048), not for signing (RFC 7517 § 4.2 ``use``), of
a type none of our algorithms uses, or - in production - the official CDS Hooks sandbox's key under any
issuer name: its private key ships in the sandbox's public JavaScript, so anyone can mint tokens with it.
Keys are compared by their RFC 7638 thumbprint, computed from the parsed key so that no re-encoding of
the same key slips past.

A token's ``alg`` must match its key before anything is decoded (RFC 7518 § 3.1): ES256 needs an EC P-256
key, ES384 an EC P-384 key (§ 3.4), RS256/RS384 an RSA key (§ 3.3), and a key whose JWK names an ``alg``
verifies that algorithm only (RFC 7517 § 4.4).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

MIN_RSA_BITS = 2048
# RFC 7638 thumbprints of the CDS Hooks sandbox's signing keys, from its published key set
# (cds-hooks/sandbox build/.well-known/jwks.json, kid 44823f3d-0b01-4a6c-a80e-b9d3e8a7226f, EC P-384;
# a copy is tests/data/sandbox-jwks.json, and a test recomputes this value from it).
SANDBOX_KEY_THUMBPRINTS = frozenset({"s9fOe-KDYD1myZ8YCzleUqJQgrYZL49kVijBxhnZvZc"})
# RFC 7638 § 3.2: the required members of each key type, which alone enter the thumbprint.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "oct": ("k", "kty")}
# alg -> (kty, crv) its key must have (RFC 7518 §§ 3.3, 3.4); None: any curve (RSA has none).
ALGORITHM_KEYS: dict[str, tuple[str, str | None]] = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
}
_CANONICAL: dict[str, type[ECAlgorithm] | type[RSAAlgorithm]] = {"EC": ECAlgorithm, "RSA": RSAAlgorithm}


class KeyRefusedError(ValueError):
    """A key we will not verify with; ``reason`` is a stable code for logs and start-up errors."""

    def __init__(self, kid: str, reason: str) -> None:
        super().__init__(f"key kid={kid} refused: {reason}")
        self.kid = kid
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key from a trusted key set, with what it may verify."""

    kid: str
    kty: str
    crv: str | None
    alg: str | None
    jwk: jwt.PyJWK

    def verifies(self, alg: str) -> bool:
        """Whether a token signed with ``alg`` may be checked with this key at all."""
        kty, crv = ALGORITHM_KEYS.get(alg, ("", None))
        return self.kty == kty and (crv is None or crv == self.crv) and self.alg in (None, alg)


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 § 3: SHA-256 of the required members in lexicographic order, no whitespace, base64url."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def load_key(raw: dict[str, Any], production: bool) -> VerificationKey:
    """The key of one JWK Set entry, or ``KeyRefusedError`` naming why not."""
    kid = raw.get("kid")
    if not isinstance(kid, str) or not kid:
        raise KeyRefusedError("-", "missing-kid")
    kty = raw.get("kty")
    if kty == "oct":
        raise KeyRefusedError(kid, "symmetric-key")
    if kty not in _CANONICAL:
        raise KeyRefusedError(kid, "unsupported-key-type")
    if raw.get("use", "sig") != "sig":
        raise KeyRefusedError(kid, "not-a-signing-key")
    alg = raw.get("alg")
    if alg is not None and ALGORITHM_KEYS.get(alg, ("", None))[0] != kty:
        raise KeyRefusedError(kid, "unsupported-algorithm")
    try:
        jwk = jwt.PyJWK.from_dict(raw)
        canonical = dict(_CANONICAL[kty].to_jwk(jwk.key, as_dict=True))
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        raise KeyRefusedError(kid, "unusable-key") from exc
    if production and thumbprint(canonical) in SANDBOX_KEY_THUMBPRINTS:
        raise KeyRefusedError(kid, "sandbox-key")
    if kty == "RSA" and jwk.key.key_size < MIN_RSA_BITS:
        raise KeyRefusedError(kid, "weak-rsa-key")
    return VerificationKey(kid, kty, canonical.get("crv"), alg, jwk)


def load_key_set(data: Any, production: bool) -> tuple[dict[str, VerificationKey], list[KeyRefusedError]]:
    """kid -> key of a JWK Set (RFC 7517 § 5), and the keys refused, each with its reason."""
    keys: dict[str, VerificationKey] = {}
    refused: list[KeyRefusedError] = []
    for raw in data.get("keys", []) if isinstance(data, dict) else []:
        try:
            key = load_key(raw if isinstance(raw, dict) else {}, production)
        except KeyRefusedError as refusal:
            refused.append(refusal)
            continue
        keys[key.kid] = key
    return keys, refused
