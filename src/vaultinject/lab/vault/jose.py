"""JSON Web Tokens: compact parsing, signature checks (RS, PS, ES, EdDSA) and key loading (`cryptography`)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from vaultinject.lab import httpbody

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | Ed25519PublicKey

# The algorithms Kubernetes service-account tokens may use (the Kubernetes auth plugin's allow-list).
KUBERNETES_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
)
ALL_ALGORITHMS = KUBERNETES_ALGORITHMS | {"EdDSA"}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}


class JWTError(ValueError):
    """The token is malformed or its signature does not verify."""


@dataclass(frozen=True)
class JWT:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def algorithm(self) -> str:
        return str(self.header.get("alg", ""))

    @property
    def key_id(self) -> str:
        return str(self.header.get("kid", ""))


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise JWTError(f"illegal base64 data: {error}") from None


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parse(token: str, allowed_algorithms: frozenset[str] = ALL_ALGORITHMS) -> JWT:
    """Split and decode a compact JWS; raises JWTError for anything malformed or an unexpected `alg`."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JWTError("compact JWS format must have three parts")
    try:
        header = httpbody.decode_json(b64url_decode(parts[0]))
        claims = httpbody.decode_json(b64url_decode(parts[1]))
    except ValueError as error:
        raise JWTError(f"invalid JSON in token: {error}") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JWTError("token header and claims must be JSON objects")
    algorithm = header.get("alg")
    if algorithm not in allowed_algorithms:
        raise JWTError(f"unexpected signature algorithm {algorithm!r}")
    signature = b64url_decode(parts[2])
    if not signature:
        raise JWTError("token must be signed")
    return JWT(header, claims, f"{parts[0]}.{parts[1]}".encode(), signature)


def verify(token: JWT, key: PublicKey) -> bool:
    """Whether `key` produced the token's signature under its `alg`."""
    algorithm = token.algorithm
    try:
        if algorithm.startswith("RS") and isinstance(key, rsa.RSAPublicKey):
            key.verify(token.signature, token.signing_input, padding.PKCS1v15(), _HASHES[algorithm[2:]]())
            return True
        if algorithm.startswith("PS") and isinstance(key, rsa.RSAPublicKey):
            digest = _HASHES[algorithm[2:]]()
            pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
            key.verify(token.signature, token.signing_input, pss, digest)
            return True
        if algorithm in _CURVES and isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(key.curve, _CURVES[algorithm]):
                return False
            size = (key.curve.key_size + 7) // 8
            if len(token.signature) != 2 * size:
                return False
            r = int.from_bytes(token.signature[:size], "big")
            s = int.from_bytes(token.signature[size:], "big")
            key.verify(encode_dss_signature(r, s), token.signing_input, ec.ECDSA(_HASHES[algorithm[2:]]()))
            return True
        if algorithm == "EdDSA" and isinstance(key, Ed25519PublicKey):
            key.verify(token.signature, token.signing_input)
            return True
    except (InvalidSignature, KeyError, ValueError):
        return False
    return False


def verify_any(token: JWT, keys: list[PublicKey]) -> bool:
    return any(verify(token, key) for key in keys)


def load_pem_public_keys(text: str) -> list[PublicKey]:
    """Every public key in PEM text: `PUBLIC KEY`, `RSA PUBLIC KEY` blocks or certificates."""
    keys: list[PublicKey] = []
    for block in _pem_blocks(text):
        key = _key_from_pem_block(block)
        if key is not None:
            keys.append(key)
    return keys


def _pem_blocks(text: str) -> list[str]:
    blocks, current = [], []
    for line in text.strip().splitlines():
        if line.startswith("-----BEGIN "):
            current = [line]
        elif line.startswith("-----END ") and current:
            current.append(line)
            blocks.append("\n".join(current) + "\n")
            current = []
        elif current:
            current.append(line.strip())
    return blocks


def _key_from_pem_block(block: str) -> PublicKey | None:
    data = block.encode()
    public: object
    try:
        if "CERTIFICATE" in block.splitlines()[0]:
            public = x509.load_pem_x509_certificate(data).public_key()
        else:
            public = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        return None
    if isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | Ed25519PublicKey):
        return public
    return None


def count_pem_certificates(text: str) -> int:
    """How many parseable certificates a PEM bundle holds."""
    count = 0
    for block in _pem_blocks(text):
        if "CERTIFICATE" not in block.splitlines()[0]:
            continue
        try:
            x509.load_pem_x509_certificate(block.encode())
        except ValueError:
            continue
        count += 1
    return count


def keys_from_jwks(document: Any) -> list[tuple[str, PublicKey]]:
    """(kid, key) pairs from a JWKS document; unknown key types are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JWTError("invalid JWKS document")
    keys: list[tuple[str, PublicKey]] = []
    for entry in document["keys"]:
        if not isinstance(entry, dict):
            continue
        key = _key_from_jwk(entry)
        if key is not None:
            keys.append((str(entry.get("kid", "")), key))
    return keys


def _key_from_jwk(entry: dict[str, Any]) -> PublicKey | None:
    try:
        if entry.get("kty") == "RSA":
            numbers = rsa.RSAPublicNumbers(_b64_int(entry["e"]), _b64_int(entry["n"]))
            return numbers.public_key()
        if entry.get("kty") == "EC":
            curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}[entry["crv"]]
            point = ec.EllipticCurvePublicNumbers(_b64_int(entry["x"]), _b64_int(entry["y"]), curve)
            return point.public_key()
        if entry.get("kty") == "OKP" and entry.get("crv") == "Ed25519":
            return Ed25519PublicKey.from_public_bytes(b64url_decode(entry["x"]))
    except (KeyError, ValueError, JWTError):
        return None
    return None


def _b64_int(text: str) -> int:
    return int.from_bytes(b64url_decode(text), "big")
