"""A small real HTTPS Kubernetes API stand-in for the Kubernetes auth tests: TokenReview and namespace reads.

It signs projected service-account tokens (RS256) and reviews them like an API server: a bearer it does not
accept gets the 401 `Status`; a reviewed token that is unknown, expired, invalidated or for other audiences gets
a 201 TokenReview with `status.error`. Every review request is recorded so tests can check the wire format.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from vaultinject.lab.tls import CertificateAuthority, server_context
from vaultinject.lab.vault.jose import b64url_encode

API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
ISSUER = "https://kubernetes.default.svc.cluster.local"
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
UNAUTHORIZED_STATUS = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


@dataclass
class Review:
    """One TokenReview the stub received."""

    bearer: str
    body: dict[str, Any]
    raw: bytes


@dataclass
class FakeKubernetes:
    directory: Path
    accounts: dict[tuple[str, str], str] = field(default_factory=dict)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    invalidated: set[str] = field(default_factory=set)
    reviews: list[Review] = field(default_factory=list)
    url: str = ""
    issuer: str = ISSUER
    ca_pem: str = ""
    ca_file: Path = Path()

    def __post_init__(self) -> None:
        authority = CertificateAuthority.create("fake kubernetes CA")
        self.ca_pem = authority.cert_pem.decode()
        self.ca_file = self.directory / "kube-ca.crt"
        self.ca_file.write_text(self.ca_pem)
        cert, key = authority.issue(["127.0.0.1", "localhost"]).write(self.directory, "kube-apiserver")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.socket = server_context(cert, key).wrap_socket(self._server.socket, server_side=True)
        self._server.fake = self  # type: ignore[attr-defined]
        self._lock = threading.Lock()
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def public_key_pem(self) -> str:
        return (
            _KEY.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def service_account(self, namespace: str, name: str) -> str:
        """Create (or return) a service account; its UID goes into tokens and reviews."""
        return self.accounts.setdefault((namespace, name), str(uuid.uuid4()))

    def issue(
        self,
        namespace: str,
        name: str,
        *,
        audiences: tuple[str, ...] = ("vault",),
        expires_in: int = 3600,
        pod: str = "",
        claims: dict[str, Any] | None = None,
    ) -> str:
        """A projected, pod-bound service-account token signed by this fake API server."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "aud": list(audiences),
            "exp": now + expires_in,
            "iat": now,
            "nbf": now,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "sub": f"system:serviceaccount:{namespace}:{name}",
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": name, "uid": self.service_account(namespace, name)},
                "pod": {"name": pod or f"{name}-pod", "uid": str(uuid.uuid4())},
            },
        }
        payload.update(claims or {})
        return sign(payload)

    def invalidate(self, token: str) -> None:
        """What deleting the token's pod does: the API server stops accepting it."""
        self.invalidated.add(token)

    # -- what the API server decides ---------------------------------------------------------------------

    def authenticate(self, token: str, audiences: list[str]) -> tuple[dict[str, Any] | None, str]:
        claims = verify(token)
        if claims is None:
            return None, "[invalid bearer token, square/go-jose: error in cryptographic primitive]"
        if token in self.invalidated:
            return None, "[invalid bearer token, service account token has been invalidated]"
        if claims["exp"] < time.time():
            return None, "[invalid bearer token, service account token has expired]"
        wanted = audiences or [API_AUDIENCE]
        if not set(claims["aud"]) & set(wanted):
            return (
                None,
                f"[invalid bearer token, token audiences {claims['aud']} is invalid for the target audiences {wanted}]",
            )
        return claims, ""

    def review(self, bearer: str, body: dict[str, Any], raw: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.reviews.append(Review(bearer, body, raw))
        if self.authenticate(bearer, [API_AUDIENCE])[0] is None:
            return 401, UNAUTHORIZED_STATUS
        spec = body.get("spec", {})
        audiences = list(spec.get("audiences") or [])
        claims, error = self.authenticate(str(spec.get("token", "")), audiences)
        status: dict[str, Any] = {"user": {}}
        if claims is None:
            status["error"] = error
        else:
            identity = claims["kubernetes.io"]
            account = identity["serviceaccount"]
            status = {
                "authenticated": True,
                "user": {
                    "username": f"system:serviceaccount:{identity['namespace']}:{account['name']}",
                    "uid": account["uid"],
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{identity['namespace']}"],
                },
                "audiences": [a for a in claims["aud"] if a in (audiences or [API_AUDIENCE])],
            }
        return 201, {
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }


def sign(payload: dict[str, Any], key: rsa.RSAPrivateKey = _KEY) -> str:
    header = b64url_encode(json.dumps({"alg": "RS256", "kid": "fake"}).encode())
    body = b64url_encode(json.dumps(payload).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{b64url_encode(signature)}"


def jwks() -> dict[str, Any]:
    """The API server's service-account signing keys, as served at `/openid/v1/jwks`."""
    numbers = _KEY.public_key().public_numbers()
    return {
        "keys": [
            {
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": "fake",
                "n": b64url_encode(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                "e": b64url_encode(numbers.e.to_bytes(3, "big")),
            }
        ]
    }


def verify(token: str) -> dict[str, Any] | None:
    from vaultinject.lab.vault import jose

    try:
        parsed = jose.parse(token)
    except jose.JWTError:
        return None
    return parsed.claims if jose.verify(parsed, _KEY.public_key()) else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: dict[str, Any]) -> None:
        # One write per response, like a Go server: a separate body write would meet Nagle and delayed ACKs.
        raw = json.dumps(body).encode()
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n"
        self.wfile.write(head.encode() + raw)

    def _bearer(self) -> str:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme == "Bearer" else ""

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/apis/authentication.k8s.io/v1/tokenreviews":
            self._send(404, {"kind": "Status", "status": "Failure", "code": 404})
            return
        status, body = self.server.fake.review(self._bearer(), json.loads(raw), raw)  # type: ignore[attr-defined]
        self._send(status, body)

    def do_GET(self) -> None:
        fake: FakeKubernetes = self.server.fake  # type: ignore[attr-defined]
        if self.path == "/openid/v1/jwks":
            self._send(200, jwks())
            return
        if self.path == "/.well-known/openid-configuration":
            self._send(200, {"issuer": fake.issuer, "jwks_uri": fake.url + "/openid/v1/jwks"})
            return
        if fake.authenticate(self._bearer(), [API_AUDIENCE])[0] is None:
            self._send(401, UNAUTHORIZED_STATUS)
            return
        prefix = "/api/v1/namespaces/"
        name = self.path[len(prefix) :] if self.path.startswith(prefix) else ""
        if not name or name not in fake.namespace_labels:
            self._send(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
            return
        self._send(
            200, {"kind": "Namespace", "metadata": {"name": name, "labels": fake.namespace_labels[name]}}
        )

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""
