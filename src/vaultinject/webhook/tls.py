"""The serving certificate: TLS 1.2+ contexts, reload on change without a restart, and a trust check.

The listener's context never changes; its SNI callback points every new handshake at the newest context
that loaded cleanly (Go's `GetCertificate`), so open connections keep theirs and a half-written pair of
files is never served.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import logging
import ssl
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature

log = logging.getLogger(__name__)


class CertificateError(Exception):
    """The certificate or key cannot be used; names the file and what is wrong."""


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
    """The webhook's certificate from PEM files (cert-manager's `tls.crt`/`tls.key`, or any issuer)."""

    def __init__(self, cert_file: Path, key_file: Path, ca_file: Path | None = None) -> None:
        self.cert_file, self.key_file, self.ca_file = cert_file, key_file, ca_file
        self.current = self._load()
        self.listener = server_context()
        self.listener.load_cert_chain(cert_file, key_file)
        self.listener.sni_callback = self._select

    def _select(self, connection: ssl.SSLObject, _name: str | None, _context: ssl.SSLContext) -> None:
        connection.context = self.current.context

    def reload(self) -> bool:
        """Load the files again if they changed; True when a new certificate is now served."""
        try:
            if _fingerprint(self.cert_file, self.key_file) == self.current.fingerprint:
                return False
            loaded = self._load()
        except CertificateError as error:
            log.warning("keeping the current serving certificate: %s", error)
            return False
        self.current = loaded
        log.info("serving a new certificate (expires %s)", loaded.chain[0].not_valid_after_utc)
        return True

    def seconds_left(self, now: datetime.datetime | None = None) -> float:
        now = now or datetime.datetime.now(datetime.UTC)
        return (self.current.chain[0].not_valid_after_utc - now).total_seconds()

    def trusted(self, now: datetime.datetime | None = None) -> tuple[bool, str]:
        """Whether the served certificate is valid now and issued by a CA in the configured bundle."""
        now = now or datetime.datetime.now(datetime.UTC)
        leaf = self.current.chain[0]
        if not leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc:
            window = f"{leaf.not_valid_before_utc} to {leaf.not_valid_after_utc}"
            return False, f"the serving certificate is not valid now (valid {window})"
        if self.ca_file is None:
            return True, "serving certificate loaded (no CA bundle configured to check it against)"
        try:
            bundle = x509.load_pem_x509_certificates(self.ca_file.read_bytes())
        except (OSError, ValueError) as error:
            return False, f"cannot read the CA bundle {self.ca_file}: {error}"
        if issued_by_any(self.current.chain, bundle):
            return True, "serving certificate trusted by the CA bundle"
        return False, f"the serving certificate is not issued by any CA in {self.ca_file}"

    def _load(self) -> Loaded:
        fingerprint = _fingerprint(self.cert_file, self.key_file)
        context = server_context()
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
            chain = tuple(x509.load_pem_x509_certificates(self.cert_file.read_bytes()))
        except (OSError, ssl.SSLError, ValueError) as error:
            raise CertificateError(
                f"cannot load the certificate {self.cert_file} with key {self.key_file}: {error}"
            ) from None
        return Loaded(context, chain, fingerprint)


def issued_by_any(chain: tuple[x509.Certificate, ...], bundle: list[x509.Certificate]) -> bool:
    """Whether each certificate of the chain issued the one before, and a CA of the bundle the last."""
    links = itertools.pairwise(chain)
    if not all(_issued(child, parent) for child, parent in links):
        return False
    return any(chain[-1] == ca or _issued(chain[-1], ca) for ca in bundle)


def _issued(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _fingerprint(*files: Path) -> bytes:
    digest = hashlib.sha256()
    try:
        for path in files:
            digest.update(path.read_bytes())
    except OSError as error:
        raise CertificateError(f"cannot read {error.filename}: {error.strerror}") from None
    return digest.digest()
