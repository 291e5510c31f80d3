"""PKI: a root CA, roles, and real certificates from `pki/issue/<role>` (reference A8)."""

from __future__ import annotations

import datetime as dt
import ipaddress

import hvac
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from vaultinject.lab.vault.harness import ThreadVault

from .helpers import raw


@pytest.fixture
def pki(client: hvac.Client) -> hvac.Client:
    client.sys.enable_secrets_engine("pki", config={"max_lease_ttl": "87600h"})
    client.secrets.pki.generate_root("internal", "lab root", extra_params={"ttl": "87600h", "key_type": "ec"})
    client.secrets.pki.create_or_update_role(
        "web",
        extra_params={"allowed_domains": ["svc.cluster.local"], "allow_subdomains": True, "max_ttl": "72h"},
    )
    return client


def test_issue_returns_a_real_certificate_signed_by_the_root(pki: hvac.Client) -> None:
    response = pki.secrets.pki.generate_certificate(
        "web",
        "app.demo.svc.cluster.local",
        extra_params={"alt_names": "api.demo.svc.cluster.local", "ip_sans": "10.0.0.7", "ttl": "24h"},
    )
    data = response["data"]
    certificate = x509.load_pem_x509_certificate(data["certificate"].encode())
    issuer = x509.load_pem_x509_certificate(data["issuing_ca"].encode())

    assert data["ca_chain"] == [data["issuing_ca"]]
    assert data["private_key_type"] == "rsa"
    assert data["serial_number"] == ":".join(
        f"{b:02x}"
        for b in certificate.serial_number.to_bytes((certificate.serial_number.bit_length() + 7) // 8, "big")
    )
    assert certificate.issuer == issuer.subject
    public = issuer.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert certificate.signature_hash_algorithm is not None
    public.verify(
        certificate.signature,
        certificate.tbs_certificate_bytes,
        ec.ECDSA(certificate.signature_hash_algorithm),
    )
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [
        "app.demo.svc.cluster.local",
        "api.demo.svc.cluster.local",
    ]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.7")]
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert dt.timedelta(hours=24) <= lifetime <= dt.timedelta(hours=24, minutes=1)
    assert data["expiration"] == int(certificate.not_valid_after_utc.timestamp())
    assert (response["lease_id"], response["lease_duration"]) == ("", 0)


def test_the_private_key_matches_the_certificate(pki: hvac.Client) -> None:
    from cryptography.hazmat.primitives import hashes, serialization

    data = pki.secrets.pki.generate_certificate("web", "a.svc.cluster.local")["data"]
    key = serialization.load_pem_private_key(data["private_key"].encode(), password=None)
    certificate = x509.load_pem_x509_certificate(data["certificate"].encode())
    assert isinstance(key, rsa.RSAPrivateKey)
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    signature = key.sign(b"probe", padding.PKCS1v15(), hashes.SHA256())
    public.verify(signature, b"probe", padding.PKCS1v15(), hashes.SHA256())


def test_names_outside_the_role_are_refused(pki: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        pki.secrets.pki.generate_certificate("web", "evil.example.com")
    assert raised.value.errors == ["common name evil.example.com not allowed by this role"]


def test_ttl_above_the_role_max_is_capped_with_a_warning(pki: hvac.Client) -> None:
    response = pki.secrets.pki.generate_certificate(
        "web", "b.svc.cluster.local", extra_params={"ttl": "100h"}
    )
    assert response["warnings"] == [
        'TTL "100h0m0s" is longer than permitted maxTTL "72h0m0s", so maxTTL is being used'
    ]


def test_ca_pem_and_certificate_listing(vault: ThreadVault, pki: hvac.Client) -> None:
    ca = raw(vault, "GET", "/v1/pki/ca/pem")
    assert ca.status == 200
    assert ca.body.startswith(b"-----BEGIN CERTIFICATE-----")
    assert pki.secrets.pki.read_ca_certificate().startswith("-----BEGIN CERTIFICATE-----")
    serial = pki.secrets.pki.generate_certificate("web", "c.svc.cluster.local")["data"]["serial_number"]
    assert serial in pki.secrets.pki.list_certificates()["data"]["keys"]
    assert pki.secrets.pki.revoke_certificate(serial)["data"]["revocation_time"] > 0
    assert pki.secrets.pki.read_certificate(serial)["data"]["revocation_time"] > 0


def test_generate_lease_puts_the_certificate_under_a_lease(pki: hvac.Client) -> None:
    pki.secrets.pki.create_or_update_role(
        "leased", extra_params={"allow_any_name": True, "generate_lease": True}
    )
    response = pki.secrets.pki.generate_certificate("leased", "leased.example", extra_params={"ttl": "1h"})
    assert response["lease_id"].startswith("pki/issue/leased/")
    assert response["lease_duration"] == 3600
    pki.sys.revoke_lease(response["lease_id"])
    assert pki.secrets.pki.read_certificate(response["data"]["serial_number"])["data"]["revocation_time"] > 0


def test_issue_without_a_root_fails_clearly(client: hvac.Client) -> None:
    client.sys.enable_secrets_engine("pki")
    client.secrets.pki.create_or_update_role("any", extra_params={"allow_any_name": True})
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        client.secrets.pki.generate_certificate("any", "x.example")
    assert raised.value.errors == ["no default issuer currently configured"]
