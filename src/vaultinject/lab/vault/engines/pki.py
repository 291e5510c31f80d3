"""The PKI engine: generate a root CA, define roles, and issue real certificates with `cryptography`."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vaultinject.lab.vault import fields, ids, responses
from vaultinject.lab.vault.acl import glob_match
from vaultinject.lab.vault.backend import Backend, MountContext
from vaultinject.lab.vault.durations import go_duration
from vaultinject.lab.vault.envelope import LeaseRequest, RawBody, Response, bad_request, not_found
from vaultinject.lab.vault.leases import LeaseEntry
from vaultinject.lab.vault.request import CREATE, Request

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
_CURVES: dict[int, ec.EllipticCurve] = {
    224: ec.SECP224R1(),
    256: ec.SECP256R1(),
    384: ec.SECP384R1(),
    521: ec.SECP521R1(),
}
ROLE_DEFAULTS: dict[str, Any] = {
    "ttl": 0,
    "max_ttl": 0,
    "allowed_domains": [],
    "allow_bare_domains": False,
    "allow_subdomains": False,
    "allow_glob_domains": False,
    "allow_any_name": False,
    "allow_localhost": True,
    "allow_ip_sans": True,
    "enforce_hostnames": True,
    "server_flag": True,
    "client_flag": True,
    "key_type": "rsa",
    "key_bits": 0,
    "generate_lease": False,
    "no_store": False,
    "organization": [],
    "ou": [],
}
_HOSTNAME = re.compile(
    r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)


def generate_key(key_type: str, bits: int) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits or 2048)
    if key_type == "ec":
        curve = _CURVES.get(bits or 256)
        if curve is None:
            raise bad_request(f"unsupported bit length for EC key: {bits}")
        return ec.generate_private_key(curve)
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise bad_request(f"unknown key type {key_type}")


def key_pem(key: PrivateKey, pkcs8: bool) -> str:
    if pkcs8 or isinstance(key, ed25519.Ed25519PrivateKey):
        encoding = serialization.PrivateFormat.PKCS8
    else:
        encoding = serialization.PrivateFormat.TraditionalOpenSSL
    raw = key.private_bytes(serialization.Encoding.PEM, encoding, serialization.NoEncryption())
    return raw.decode().strip()


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode().strip()


def serial_text(serial: int) -> str:
    raw = serial.to_bytes((serial.bit_length() + 7) // 8 or 1, "big")
    return ":".join(f"{byte:02x}" for byte in raw)


def _sign(builder: x509.CertificateBuilder, key: PrivateKey) -> x509.Certificate:
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


def _key_type(key: PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ec"
    return "ed25519"


class PKIBackend(Backend):
    type_name = "pki"
    # As in Vault, anyone may fetch the CA and issued certificates.
    unauthenticated_paths = ("cert/*", "ca/pem", "ca_chain", "ca", "crl", "crl/pem")

    def __init__(self, context: MountContext) -> None:
        super().__init__(context)
        self.clock = context.services.clock
        add = self.router.add
        add(r"root/generate/(?P<kind>internal|exported)", update=self.generate_root)
        add(r"root", delete=self.delete_root)
        add(r"ca/pem", read=self.ca_pem)
        add(r"ca", read=self.ca_der)
        add(r"ca_chain", read=self.ca_pem)
        add(r"cert/ca", read=self.ca_json)
        add(r"cert/(?P<serial>[0-9a-fA-F:-]+)", read=self.read_cert)
        add(r"certs/?", list=self.list_certs)
        add(r"revoke", update=self.revoke)
        add(r"roles/?", list=self.list_roles)
        add(
            r"roles/(?P<name>[^/]+)",
            read=self.read_role,
            update=self.write_role,
            delete=self.delete_role,
            exists=lambda _request, match: self.storage.get(f"role/{match['name']}") is not None,
        )
        add(r"issue/(?P<name>[^/]+)", update=self.issue)

    # -- the CA -------------------------------------------------------------------------------------

    def _ca(self) -> tuple[x509.Certificate, PrivateKey] | None:
        stored = self.storage.get("ca")
        if stored is None:
            return None
        key = serialization.load_pem_private_key(stored["key"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
        return x509.load_pem_x509_certificate(stored["certificate"].encode()), key

    def generate_root(self, request: Request, match: re.Match[str]) -> Response:
        data = request.data
        common_name = fields.string(data, "common_name")
        if not common_name:
            raise bad_request("the 'common_name' field is required")
        key = generate_key(fields.string(data, "key_type", "rsa") or "rsa", fields.integer(data, "key_bits"))
        ttl = fields.duration(data, "ttl") or self.context.limits.max_ttl
        now = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(seconds=30))
            .not_valid_after(now + dt.timedelta(seconds=ttl))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        sans = _sans(fields.string_list(data, "alt_names"), fields.string_list(data, "ip_sans"))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        certificate = _sign(builder, key)
        issuer_id, key_id = ids.new_uuid(), ids.new_uuid()
        self.storage.put(
            "ca",
            {
                "certificate": cert_pem(certificate),
                "key": key_pem(key, pkcs8=True),
                "issuer_id": issuer_id,
                "key_id": key_id,
                "issuer_name": fields.string(data, "issuer_name"),
            },
        )
        self._remember(certificate)
        body: dict[str, Any] = {
            "certificate": cert_pem(certificate),
            "issuing_ca": cert_pem(certificate),
            "serial_number": serial_text(certificate.serial_number),
            "expiration": int(certificate.not_valid_after_utc.timestamp()),
            "issuer_id": issuer_id,
            "issuer_name": fields.string(data, "issuer_name"),
            "key_id": key_id,
            "key_name": "",
            "key_type": _key_type(key),
        }
        if match["kind"] == "exported":
            body["private_key"] = key_pem(key, fields.string(data, "private_key_format") == "pkcs8")
            body["private_key_type"] = _key_type(key)
        return responses.data(body)

    def delete_root(self, _request: Request, _match: re.Match[str]) -> Response:
        self.storage.delete("ca")
        return responses.no_content()

    def _require_ca(self) -> tuple[x509.Certificate, PrivateKey]:
        ca = self._ca()
        if ca is None:
            raise bad_request("no default issuer currently configured")
        return ca

    def ca_pem(self, _request: Request, _match: re.Match[str]) -> Response:
        ca = self._ca()
        body = (cert_pem(ca[0]) + "\n").encode() if ca else b""
        return Response(raw=RawBody(200, "application/pem-certificate-chain", body))

    def ca_der(self, _request: Request, _match: re.Match[str]) -> Response:
        ca = self._ca()
        body = ca[0].public_bytes(serialization.Encoding.DER) if ca else b""
        return Response(raw=RawBody(200, "application/pkix-cert", body))

    def ca_json(self, _request: Request, _match: re.Match[str]) -> Response:
        certificate, _ = self._require_ca()
        return responses.data({"certificate": cert_pem(certificate), "revocation_time": 0})

    # -- certificates -------------------------------------------------------------------------------

    def _remember(self, certificate: x509.Certificate) -> None:
        self.storage.put(
            f"certs/{serial_text(certificate.serial_number).replace(':', '-')}",
            {"certificate": cert_pem(certificate), "revocation_time": 0},
        )

    def read_cert(self, _request: Request, match: re.Match[str]) -> Response:
        stored = self.storage.get(f"certs/{match['serial'].lower().replace(':', '-')}")
        if stored is None:
            raise not_found()
        return responses.data(stored)

    def list_certs(self, _request: Request, _match: re.Match[str]) -> Response:
        return responses.keys([key.replace("-", ":") for key in self.storage.children("certs/")])

    def revoke(self, request: Request, _match: re.Match[str]) -> Response:
        serial = fields.string(request.data, "serial_number").lower().replace(":", "-")
        stored = self.storage.get(f"certs/{serial}")
        if stored is None:
            raise bad_request(f"certificate with serial {serial.replace('-', ':')} not found.")
        if not stored["revocation_time"]:
            stored["revocation_time"] = self.clock.now_int()
            self.storage.put(f"certs/{serial}", stored)
        return responses.data({"revocation_time": stored["revocation_time"]})

    def revoke_secret(self, lease: LeaseEntry) -> None:
        serial = str(lease.internal.get("serial_number", "")).replace(":", "-")
        stored = self.storage.get(f"certs/{serial}")
        if stored is not None and not stored["revocation_time"]:
            stored["revocation_time"] = self.clock.now_int()
            self.storage.put(f"certs/{serial}", stored)

    # -- roles --------------------------------------------------------------------------------------

    def write_role(self, request: Request, match: re.Match[str]) -> Response:
        data = request.data
        stored = None if request.operation == CREATE else self.storage.get(f"role/{match['name']}")
        role = dict(stored or ROLE_DEFAULTS)
        for key, default in ROLE_DEFAULTS.items():
            if not fields.has(data, key):
                continue
            if isinstance(default, bool):
                role[key] = fields.boolean(data, key)
            elif isinstance(default, list):
                role[key] = fields.string_list(data, key)
            elif key in ("ttl", "max_ttl"):
                role[key] = fields.duration(data, key)
            elif key == "key_bits":
                role[key] = fields.integer(data, key)
            else:
                role[key] = fields.string(data, key)
        if role["key_type"] not in ("rsa", "ec", "ed25519", "any"):
            raise bad_request(f"unknown key type {role['key_type']}")
        self.storage.put(f"role/{match['name']}", role)
        return responses.no_content()

    def read_role(self, _request: Request, match: re.Match[str]) -> Response:
        role = self.storage.get(f"role/{match['name']}")
        if role is None:
            raise not_found()
        return responses.data(role)

    def delete_role(self, _request: Request, match: re.Match[str]) -> Response:
        self.storage.delete(f"role/{match['name']}")
        return responses.no_content()

    # -- issuing ------------------------------------------------------------------------------------

    def issue(self, request: Request, match: re.Match[str]) -> Response:
        role = self.storage.get(f"role/{match['name']}")
        if role is None:
            raise bad_request(f"unknown role: {match['name']}")
        ca_cert, ca_key = self._require_ca()
        data = request.data
        common_name = fields.string(data, "common_name")
        if not common_name:
            raise bad_request(
                'the common_name field is required, or must be provided in a CSR with "use_csr_common_name" '
                'set to true, unless "require_cn" is set to false'
            )
        alt_names = fields.string_list(data, "alt_names")
        ip_sans = fields.string_list(data, "ip_sans")
        _check_name(role, common_name, "common name")
        for name in alt_names:
            _check_name(role, name, "subject alternate name")
        if ip_sans and not role["allow_ip_sans"]:
            raise bad_request(
                f"IP Subject Alternative Names are not allowed in this role, but was provided {ip_sans[0]}"
            )
        ttl, warnings = self._ttl(role, fields.duration(data, "ttl"), ca_cert)
        key = generate_key(role["key_type"] if role["key_type"] != "any" else "rsa", int(role["key_bits"]))
        dns_names = list(alt_names)
        if not fields.boolean(data, "exclude_cn_from_sans") and common_name not in dns_names:
            dns_names.insert(0, common_name)
        certificate = self._leaf(
            role,
            common_name=common_name,
            dns_names=dns_names,
            ip_sans=ip_sans,
            key=key,
            ttl=ttl,
            ca_cert=ca_cert,
            ca_key=ca_key,
        )
        self._remember(certificate)
        serial = serial_text(certificate.serial_number)
        body = {
            "certificate": cert_pem(certificate),
            "issuing_ca": cert_pem(ca_cert),
            "ca_chain": [cert_pem(ca_cert)],
            "private_key": key_pem(key, fields.string(data, "private_key_format") == "pkcs8"),
            "private_key_type": _key_type(key),
            "serial_number": serial,
            "expiration": int(certificate.not_valid_after_utc.timestamp()),
        }
        lease = LeaseRequest(ttl=ttl, max_ttl=ttl, renewable=False, internal={"serial_number": serial})
        return Response(data=body, warnings=warnings, lease=lease if role["generate_lease"] else None)

    def _ttl(self, role: dict[str, Any], requested: int, ca_cert: x509.Certificate) -> tuple[int, list[str]]:
        limits = self.context.limits
        max_ttl = int(role["max_ttl"]) or limits.max_ttl
        ttl = requested or int(role["ttl"]) or limits.default_ttl
        warnings = []
        if ttl > max_ttl:
            warnings.append(
                f'TTL "{go_duration(ttl)}" is longer than permitted maxTTL "{go_duration(max_ttl)}", '
                "so maxTTL is being used"
            )
            ttl = max_ttl
        not_after = self.clock.now() + ttl
        if not_after > ca_cert.not_valid_after_utc.timestamp():
            wanted = dt.datetime.fromtimestamp(not_after, dt.UTC).isoformat()
            raise bad_request(
                f"cannot satisfy request, as TTL would result in notAfter of {wanted} that is beyond the "
                f"expiration of the CA certificate at {ca_cert.not_valid_after_utc.isoformat()}"
            )
        return ttl, warnings

    def _leaf(
        self,
        role: dict[str, Any],
        *,
        common_name: str,
        dns_names: list[str],
        ip_sans: list[str],
        key: PrivateKey,
        ttl: int,
        ca_cert: x509.Certificate,
        ca_key: PrivateKey,
    ) -> x509.Certificate:
        now = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC)
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in role["organization"]]
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] if role["server_flag"] else []
        usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if role["client_flag"] else []
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(seconds=30))
            .not_valid_after(now + dt.timedelta(seconds=ttl))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    True, False, isinstance(key, rsa.RSAPrivateKey), False, False, False, False, False, False
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        sans = _sans([name for name in dns_names if _is_hostname(name)], ip_sans)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return _sign(builder, ca_key)


def _is_hostname(name: str) -> bool:
    return bool(_HOSTNAME.match(name))


def _sans(dns_names: list[str], ip_sans: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    for address in ip_sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            raise bad_request(f"the value {address!r} is not a valid IP address") from None
    return names


def _check_name(role: dict[str, Any], name: str, what: str) -> None:
    if not _name_allowed(role, name):
        raise bad_request(f"{what} {name} not allowed by this role")


def _name_allowed(role: dict[str, Any], name: str) -> bool:
    if role["allow_any_name"]:
        return not role["enforce_hostnames"] or _is_hostname(name)
    if role["enforce_hostnames"] and not _is_hostname(name):
        return False
    if role["allow_localhost"] and name in ("localhost", "localdomain"):
        return True
    base = name[2:] if name.startswith("*.") else name
    for domain in role["allowed_domains"]:
        if role["allow_bare_domains"] and base == domain:
            return True
        if role["allow_subdomains"] and base.endswith("." + domain.lstrip("*.")):
            return True
        if role["allow_glob_domains"] and glob_match(domain, name):
            return True
    return False
