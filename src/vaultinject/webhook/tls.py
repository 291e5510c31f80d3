"""The serving certificate: TLS 1.2+ contexts, replaced for new handshakes without a restart, and trust.

The listener's context never changes; its SNI callback points every new handshake at the newest context
that loaded cleanly (Go's `GetCertificate`), so open connections keep theirs and a half-written pair of
files is never served.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import logging
import os
import ssl
import tempfile
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature

log = logging.getLogger(__name__)


class CertificateError(Exception):
    """The certificate or key cannot be used; says which and what is wrong."""


class Loaded(NamedTuple):
    context: ssl.SSLContext
    chain: tuple[x509.Certificate, ...]
    fingerprint: bytes


def server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


class ServingCertificate:
    """The certificate new handshakes get, and the CA bundle readiness judges it by."""

    def __init__(
        self, cert_pem: bytes, key_pem: bytes, bundle_pem: bytes | None = None, origin: str = ""
    ) -> None:
        self.origin = origin or "the serving certificate"
        self.current = load(cert_pem, key_pem, self.origin)
        self.bundle_pem = bundle_pem
        self.listener = self.current.context
        self.listener.sni_callback = self._select

    def _select(self, connection: ssl.SSLObject, _name: str | None, _context: ssl.SSLContext) -> None:
        connection.context = self.current.context

    def install(self, cert_pem: bytes, key_pem: bytes) -> bool:
        """Serve this pair to new handshakes; False if it is already served. Raises `CertificateError`."""
        if _fingerprint(cert_pem, key_pem) == self.current.fingerprint:
            return False
        self.current = load(cert_pem, key_pem, self.origin)
        log.info("serving a new certificate (expires %s)", self.current.chain[0].not_valid_after_utc)
        return True

    def seconds_left(self, now: datetime.datetime | None = None) -> float:
        now = now or datetime.datetime.now(datetime.UTC)
        return (self.current.chain[0].not_valid_after_utc - now).total_seconds()

    def trusted(self, now: datetime.datetime | None = None) -> tuple[bool, str]:
        """Whether the served certificate is valid now and issued by a CA of the bundle."""
        now = now or datetime.datetime.now(datetime.UTC)
        leaf = self.current.chain[0]
        if not leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc:
            window = f"{leaf.not_valid_before_utc} to {leaf.not_valid_after_utc}"
            return False, f"the serving certificate is not valid now (valid {window})"
        if self.bundle_pem is None:
            return True, "serving certificate loaded (no CA bundle configured to check it against)"
        try:
            bundle = x509.load_pem_x509_certificates(self.bundle_pem)
        except ValueError as error:
            return False, f"cannot read the CA bundle: {error}"
        if issued_by_any(self.current.chain, bundle):
            return True, "serving certificate trusted by the CA bundle"
        return False, "the serving certificate is not issued by any CA in the bundle"


class CertificateFiles:
    """File mode: PEM files (cert-manager's `tls.crt`, `tls.key`, `ca.crt`, or any issuer's), re-read."""

    def __init__(self, cert_file: Path, key_file: Path, ca_file: Path | None = None) -> None:
        self.cert_file, self.key_file, self.ca_file = cert_file, key_file, ca_file
        origin = f"the certificate {cert_file} with key {key_file}"
        self.serving = ServingCertificate(*self._read(), self._bundle(), origin=origin)

    def reload(self) -> bool:
        """Serve the files again if they changed; keep the current certificate if they do not load."""
        try:
            self.serving.bundle_pem = self._bundle()
            return self.serving.install(*self._read())
        except CertificateError as error:
            log.warning("keeping the current serving certificate: %s", error)
            return False

    def _read(self) -> tuple[bytes, bytes]:
        try:
            return self.cert_file.read_bytes(), self.key_file.read_bytes()
        except OSError as error:
            raise CertificateError(f"cannot read {error.filename}: {error.strerror}") from None

    def _bundle(self) -> bytes | None:
        if self.ca_file is None:
            return None
        try:
            return self.ca_file.read_bytes()
        except OSError as error:
            raise CertificateError(f"cannot read the CA bundle {self.ca_file}: {error.strerror}") from None


def load(cert_pem: bytes, key_pem: bytes, origin: str = "the serving certificate") -> Loaded:
    """A TLS 1.2+ server context for this pair; `CertificateError` if they do not make a usable pair."""
    context = server_context()
    try:
        chain = tuple(x509.load_pem_x509_certificates(cert_pem))
        # ssl loads key material from files only: a private directory, gone right after the load
        with tempfile.TemporaryDirectory(prefix="vaultinject-tls-") as directory:
            cert_path, key_path = Path(directory, "tls.crt"), Path(directory, "tls.key")
            cert_path.write_bytes(cert_pem)
            descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as key_file:
                key_file.write(key_pem)
            context.load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError, ValueError) as error:
        raise CertificateError(f"cannot load {origin}: {error}") from None
    return Loaded(context, chain, _fingerprint(cert_pem, key_pem))


def issued_by_any(chain: tuple[x509.Certificate, ...], bundle: list[x509.Certificate]) -> bool:
    """Whether each certificate of the chain issued the one before, and a CA of the bundle the last."""
    if not all(_issued(child, parent) for child, parent in itertools.pairwise(chain)):
        return False
    return any(chain[-1] == ca or _issued(chain[-1], ca) for ca in bundle)


def trusted_by(cert_pem: bytes, bundle_pem: bytes) -> bool:
    """Whether the PEM chain is issued by a CA of the PEM bundle (false for anything unreadable)."""
    try:
        chain = tuple(x509.load_pem_x509_certificates(cert_pem))
        bundle = x509.load_pem_x509_certificates(bundle_pem)
    except ValueError:
        return False
    return issued_by_any(chain, bundle)


def _issued(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _fingerprint(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()
