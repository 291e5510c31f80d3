"""The webhook's own CA and serving certificates (automatic TLS): ECDSA P-256, pure functions on PEM."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BACKDATE = dt.timedelta(minutes=1)  # tolerate API servers whose clocks run a little behind ours


class Pair(NamedTuple):
    cert_pem: bytes
    key_pem: bytes


def create_ca(lifetime: dt.timedelta, now: dt.datetime) -> Pair:
    """A self-signed CA that can sign only end-entity certificates (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"vaultinject webhook CA {now:%Y-%m-%d %H:%M:%S}")]
    )
    usage = _key_usage(cert_sign=True)
    cert = (
        _builder(name, name, key.public_key(), now, lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Pair(_pem(cert), _key_pem(key))


def issue(ca: Pair, hosts: list[str], lifetime: dt.timedelta, now: dt.datetime) -> Pair:
    """A serving certificate for `hosts` (DNS names or IP addresses), signed by `ca`."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    lifetime = min(lifetime, ca_cert.not_valid_after_utc - now)  # never outlive the CA that signs it
    cert = (
        _builder(subject, ca_cert.subject, key.public_key(), now, lifetime)
        .add_extension(x509.SubjectAlternativeName([_general_name(host) for host in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Pair(_pem(cert), _key_pem(key))


def due(cert_pem: bytes, now: dt.datetime, fraction: float = 2 / 3) -> bool:
    """Whether `fraction` of the certificate's lifetime has passed (or it is not valid at all)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    start, end = cert.not_valid_before_utc + BACKDATE, cert.not_valid_after_utc
    return now >= start + (end - start) * fraction or now < cert.not_valid_before_utc


def outlives(cert_pem: bytes, now: dt.datetime, span: dt.timedelta) -> bool:
    """Whether the certificate is still valid `span` from now."""
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc > now + span


def certificates(bundle_pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(bundle_pem) if bundle_pem.strip() else []


def bundle(*pems: bytes) -> bytes:
    """The CA certificates of `pems`, each once, in order, dropping any that have expired."""
    now = dt.datetime.now(dt.UTC)
    seen: list[x509.Certificate] = []
    for pem in pems:
        seen += [c for c in certificates(pem) if c not in seen and c.not_valid_after_utc > now]
    return b"".join(_pem(c) for c in seen)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePublicKey,
    now: dt.datetime,
    life: dt.timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + life)
    )


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False,
        decipher_only=False,
    )  # fmt: skip


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
