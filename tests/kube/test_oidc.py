"""The cluster's signing keys as PEM, from a JWKS (RSA and EC keys; anything else left out)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from vaultinject.kube.oidc import jwk_to_pem


def b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def pem_of(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    encoded = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return encoded.decode()


def test_an_rsa_jwk_becomes_its_public_key_pem() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    numbers = key.public_numbers()
    jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "a", "n": b64(numbers.n), "e": b64(numbers.e)}
    assert jwk_to_pem(jwk) == pem_of(key)


def test_an_ec_jwk_becomes_its_public_key_pem() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    numbers = key.public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64(numbers.x), "y": b64(numbers.y)}
    assert jwk_to_pem(jwk) == pem_of(key)


def test_keys_that_are_not_signing_keys_or_are_malformed_are_left_out() -> None:
    assert jwk_to_pem({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}) is None
    assert jwk_to_pem({"kty": "oct", "k": "c2VjcmV0"}) is None
    assert jwk_to_pem({"kty": "RSA", "n": 5, "e": "AQAB"}) is None
    assert jwk_to_pem({"kty": "EC", "crv": "P-999", "x": "AQ", "y": "AQ"}) is None
    assert jwk_to_pem(["not", "a", "key"]) is None
