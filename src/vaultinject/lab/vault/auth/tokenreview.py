"""Calls from the Kubernetes auth method to the Kubernetes API server: TokenReview and namespace reads.

The request, bearer and response parsing follow `token_review.go` of vault-plugin-auth-kubernetes: the body
has no `apiVersion`/`kind`, a non-2xx answer is an error (401 gets its own message), a body that decodes as
a `metav1.Status` is an error, and only then is the body read as a TokenReview.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import ssl
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

UNAUTHORIZED = (
    "lookup failed: service account unauthorized; "
    "this could mean it has been deleted or recreated with a new token"
)


class ReviewError(Exception):
    """The review failed; the message is what the plugin would log at debug level."""


@dataclass(frozen=True)
class ReviewResult:
    name: str
    namespace: str
    uid: str


@dataclass(frozen=True)
class KubeEndpoint:
    """Where and how to reach the API server: base URL, trusted CA PEM ("" = system store), bearer token."""

    host: str
    ca_pem: str
    bearer: str


class KubeClient:
    """A small pooled HTTPS client for the API server, one pool per (host, CA)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._contexts: dict[str, ssl.SSLContext | None] = {}
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}

    def request(
        self,
        endpoint: KubeEndpoint,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        """Send one request; raises ReviewError for transport failures (TLS, refused, timeout)."""
        url = urlsplit(endpoint.host.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ReviewError(f'Post "{endpoint.host}{path}": unsupported protocol scheme "{url.scheme}"')
        key = (endpoint.host.rstrip("/"), hashlib.sha256(endpoint.ca_pem.encode()).hexdigest())
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        bearer = f"Bearer {endpoint.bearer}".strip()
        if bearer != "Bearer":
            headers["Authorization"] = bearer
        payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        target = (url.path.rstrip("/") + path) or "/"
        for attempt in range(2):
            connection, reused = self._connection(key, url.scheme, url.hostname, url.port, endpoint.ca_pem)
            try:
                connection.request(method, target, body=payload, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine) as error:
                connection.close()
                if reused and attempt == 0:
                    continue
                raise ReviewError(f'{method} "{endpoint.host}{path}": {error}') from None
            except (OSError, ssl.SSLError, http.client.HTTPException) as error:
                connection.close()
                raise ReviewError(f'{method} "{endpoint.host}{path}": {error}') from None
            if response.will_close:
                connection.close()
            else:
                self._release(key, connection)
            return response.status, data
        raise ReviewError(f'{method} "{endpoint.host}{path}": connection failed')

    def _connection(
        self, key: tuple[str, str], scheme: str, host: str, port: int | None, ca_pem: str
    ) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        if scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=self.timeout), False
        context = self._context(key[1], ca_pem)
        return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=context), False

    def _context(self, digest: str, ca_pem: str) -> ssl.SSLContext:
        with self._lock:
            cached = self._contexts.get(digest)
        if cached is not None:
            return cached
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if ca_pem:
            # No usable CA leaves the trust store empty, so every handshake fails, as with an empty Go pool.
            with contextlib.suppress(ssl.SSLError, ValueError):
                context.load_verify_locations(cadata=ca_pem)
        else:
            context.load_default_certs()
        with self._lock:
            self._contexts[digest] = context
        return context

    def _release(self, key: tuple[str, str], connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < 16:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            pools, self._idle = self._idle, {}
        for idle in pools.values():
            for connection in idle:
                connection.close()


def review_body(jwt: str, audiences: list[str]) -> dict[str, Any]:
    """The marshalled `authv1.TokenReview` the plugin sends: no apiVersion/kind, audiences only if any."""
    spec: dict[str, Any] = {"token": jwt}
    if audiences:
        spec["audiences"] = audiences
    return {"metadata": {"creationTimestamp": None}, "spec": spec, "status": {"user": {}}}


def review(client: KubeClient, endpoint: KubeEndpoint, jwt: str, audiences: list[str]) -> ReviewResult:
    """POST a TokenReview and interpret the answer exactly as the plugin does."""
    status, body = client.request(
        endpoint, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review_body(jwt, audiences)
    )
    return parse_review(status, body, audiences)


def parse_review(status: int, body: bytes, audiences: list[str]) -> ReviewResult:
    if status < 200 or status > 206:
        if status == 401:
            raise ReviewError(UNAUTHORIZED)
        raise ReviewError(
            f"the server responded with status {status}: {body.decode(errors='replace').strip()}"
        )
    try:
        document = json.loads(body) if body.strip() else None
    except ValueError as error:
        raise ReviewError(f"invalid TokenReview response: {error}") from None
    if decodes_as_status(document):
        message = (document or {}).get("message") or "unknown error"
        raise ReviewError(f"kubernetes returned a Status that is not Success: {message}")
    review_status = _token_review_status(document)
    if review_status.get("error"):
        raise ReviewError(f"lookup failed: {review_status['error']}")
    if not review_status.get("authenticated"):
        raise ReviewError("lookup failed: service account jwt not valid")
    granted = list(review_status.get("audiences") or [])
    if audiences and not any(audience in granted for audience in audiences):
        raise ReviewError(
            f"lookup failed: service account jwt valid for audience(s) {_go_list(granted)}, "
            f"but wanted {_go_list(audiences)}"
        )
    user = review_status.get("user") or {}
    parts = str(user.get("username", "")).split(":")
    if len(parts) != 4:
        raise ReviewError("lookup failed: unexpected username format")
    if parts[0] != "system" or parts[1] != "serviceaccount":
        raise ReviewError("lookup failed: username returned is not a service account")
    return ReviewResult(name=parts[3], namespace=parts[2], uid=str(user.get("uid", "")))


_STATUS_STRINGS = ("kind", "apiVersion", "status", "message", "reason")


def decodes_as_status(document: Any) -> bool:
    """Whether Go's `json.Unmarshal` into a `metav1.Status` would succeed (known fields type-compatible)."""
    if document is None:
        return True
    if not isinstance(document, dict):
        return False
    for name in _STATUS_STRINGS:
        if document.get(name) is not None and not isinstance(document[name], str):
            return False
    for name in ("metadata", "details"):
        if document.get(name) is not None and not isinstance(document[name], dict):
            return False
    code = document.get("code")
    return code is None or (isinstance(code, int) and not isinstance(code, bool))


def _token_review_status(document: Any) -> dict[str, Any]:
    status = document.get("status") if isinstance(document, dict) else None
    if status is None:
        return {}
    if not isinstance(status, dict):
        raise ReviewError("json: cannot unmarshal TokenReview status")
    user = status.get("user")
    if user is not None and not isinstance(user, dict):
        raise ReviewError("json: cannot unmarshal TokenReview status.user")
    if status.get("audiences") is not None and not isinstance(status["audiences"], list):
        raise ReviewError("json: cannot unmarshal TokenReview status.audiences")
    return status


def _go_list(items: list[str]) -> str:
    """Go's `%v` of a string slice: `[a b]`."""
    return "[" + " ".join(items) + "]"


def namespace_labels(client: KubeClient, endpoint: KubeEndpoint, namespace: str) -> dict[str, str]:
    """GET the namespace and return its labels (for `bound_service_account_namespace_selector`)."""
    status, body = client.request(endpoint, "GET", f"/api/v1/namespaces/{namespace}")
    if status != 200:
        raise ReviewError(f"failed to get namespace {namespace!r}: status {status}")
    try:
        document = json.loads(body)
        labels = document.get("metadata", {}).get("labels") or {}
    except (ValueError, AttributeError):
        raise ReviewError("invalid namespace object") from None
    return {str(key): str(value) for key, value in labels.items()}


def service_account_annotations(
    client: KubeClient, endpoint: KubeEndpoint, namespace: str, name: str
) -> dict[str, str]:
    """GET the service account and return its annotations (`use_annotations_as_alias_metadata`)."""
    status, body = client.request(endpoint, "GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}")
    if status != 200:
        raise ReviewError(f"failed to get service account {namespace}/{name}: status {status}")
    try:
        annotations = json.loads(body).get("metadata", {}).get("annotations") or {}
    except (ValueError, AttributeError):
        raise ReviewError("invalid service account object") from None
    return {str(key): str(value) for key, value in annotations.items()}
