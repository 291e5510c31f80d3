"""The cluster's service-account issuer and signing keys, from its OpenID discovery documents."""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from vaultinject.kube.client import Kube
from vaultinject.kube.errors import KubeError

CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}


class SigningKeys(NamedTuple):
    issuer: str
    pems: tuple[str, ...]  # each key of the JWKS as a PEM public key
    error: str = ""  # why they could not be read (then `pems` is empty)


async def signing_keys(kube: Kube) -> SigningKeys:
    """GET /.well-known/openid-configuration and /openid/v1/jwks; keys of unknown types are left out."""
    try:
        issuer = str((await kube.get_path("/.well-known/openid-configuration")).get("issuer") or "")
        jwks = await kube.get_path("/openid/v1/jwks")
    except KubeError as error:
        return SigningKeys("", (), error.message)
    except (AttributeError, ValueError):
        return SigningKeys("", (), "the API server's OpenID discovery documents are not JSON objects")
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    pems = tuple(pem for key in keys or () if (pem := jwk_to_pem(key)) is not None)
    return SigningKeys(issuer, pems, "" if pems else "the JWKS holds no RSA or EC signing key")


def jwk_to_pem(key: Any) -> str | None:
    """An RSA or EC public JWK as a PEM SubjectPublicKeyInfo; None for anything else."""
    if not isinstance(key, dict) or key.get("use", "sig") != "sig":
        return None
    try:
        if key.get("kty") == "RSA":
            public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey = rsa.RSAPublicNumbers(
                _int(key["e"]), _int(key["n"])
            ).public_key()
        elif key.get("kty") == "EC" and key.get("crv") in CURVES:
            curve = CURVES[key["crv"]]
            public = ec.EllipticCurvePublicNumbers(_int(key["x"]), _int(key["y"]), curve).public_key()
        else:
            return None
    except (KeyError, TypeError, ValueError):
        return None
    encoded = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return encoded.decode()


def _int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
