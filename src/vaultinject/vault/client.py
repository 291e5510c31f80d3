"""A thin Vault HTTP client on the standard library: one kept-alive connection, typed errors."""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
from collections.abc import Mapping

from vaultinject.records import Record
from vaultinject.urls import query, quote, split_url
from vaultinject.vault.errors import (
    NotFound,
    RateLimited,
    ServerError,
    VaultError,
    VaultTLSError,
    VaultUnreachable,
    error_for_status,
)
from vaultinject.vault.http import Connection, ConnectionClosed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Json = dict[str, Any]


class TLSConfig(Record):
    """How to trust Vault and, optionally, present a client certificate."""

    ca_file: str | None = None
    ca_path: str | None = None
    ca_pem: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    server_name: str | None = None
    skip_verify: bool = False


class Auth(Record):
    """The `auth` block of a login or renewal."""

    client_token: str
    accessor: str
    policies: tuple[str, ...]
    lease_duration: int
    renewable: bool
    metadata: Mapping[str, str]

    @classmethod
    def from_response(cls, body: Json) -> Auth:
        auth = body.get("auth") or {}
        if not auth.get("client_token"):
            raise VaultError("Vault's response carries no auth block")
        return cls(
            client_token=auth["client_token"],
            accessor=auth.get("accessor", ""),
            policies=tuple(auth.get("policies") or ()),
            lease_duration=int(auth.get("lease_duration") or 0),
            renewable=bool(auth.get("renewable")),
            metadata=dict(auth.get("metadata") or {}),
        )


def ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """A client context (TLS 1.2+). Loads the system store only when no CA was given: it is slow."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif tls.ca_file or tls.ca_path or tls.ca_pem:
        context.load_verify_locations(cafile=tls.ca_file, capath=tls.ca_path, cadata=tls.ca_pem)
    else:
        context.load_default_certs()
    if tls.client_cert:
        context.load_cert_chain(tls.client_cert, tls.client_key)
    return context


class VaultClient:
    """Requests to one Vault server. Not thread-safe: the agent drives it from one thread."""

    def __init__(
        self,
        address: str,
        *,
        tls: TLSConfig | None = None,
        namespace: str | None = None,
        timeout: float = 60.0,
        proxy: str | None = None,
        max_retries: int = 2,
    ) -> None:
        url = split_url(address)
        self.address = address.rstrip("/")
        self._https = url.scheme == "https"
        self._host, self._port = url.host, url.default_port
        self._tls = tls or TLSConfig()
        self._context = ssl_context(self._tls) if self._https else None
        self.namespace = namespace
        self.timeout = timeout
        self._proxy = split_url(proxy) if proxy else None
        self.max_retries = max_retries
        self.token: str | None = None
        self._connection: Connection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # The API the agent uses.

    def login(self, mount: str, body: Mapping[str, Any]) -> Auth:
        """Log in at `auth/<mount>/login`; the token becomes this client's token."""
        auth = Auth.from_response(self.write(f"{mount.strip('/')}/login", body, authenticated=False) or {})
        self.token = auth.client_token
        return auth

    def read(self, path: str, params: Mapping[str, str] | None = None) -> Json:
        """GET a path; raises NotFound (with `.data` for deleted KV v2 versions)."""
        return self.request("GET", path, params=params) or {}

    def write(
        self, path: str, body: Mapping[str, Any] | None = None, *, authenticated: bool = True
    ) -> Json | None:
        """PUT a path; None for 204 No Content."""
        return self.request("PUT", path, body or {}, authenticated=authenticated)

    def list(self, path: str) -> list[str]:
        """The keys under a path; empty when there are none."""
        try:
            body = self.request("LIST", path) or {}
        except NotFound:
            return []
        return list((body.get("data") or {}).get("keys") or [])

    def renew_self(self, increment: int | None = None) -> Auth:
        body = {"increment": increment} if increment else {}
        return Auth.from_response(self.write("auth/token/renew-self", body) or {})

    def lookup_self(self) -> Json:
        return self.read("auth/token/lookup-self")

    def revoke_self(self) -> None:
        self.write("auth/token/revoke-self")

    def renew_lease(self, lease_id: str, increment: int | None = None) -> Json:
        body: Json = {"lease_id": lease_id}
        if increment:
            body["increment"] = increment
        return self.write("sys/leases/renew", body) or {}

    def revoke_lease(self, lease_id: str) -> None:
        self.write("sys/leases/revoke", {"lease_id": lease_id})

    # The transport.

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> Json | None:
        """One request, decoded; None for 204 No Content."""
        raw = self.request_raw(method, path, body, params=params, authenticated=authenticated)
        if not raw:
            return None
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            message = f"{method} {path}: Vault's answer is not a JSON object"
            raise VaultError(message, method=method, path=path)
        return document

    def request_raw(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> bytes | None:
        """One request with Vault's retry policy (connection errors and 5xx but 501 retried); the body."""
        target = "/v1/" + quote(path.strip("/"), safe="/:@") + (f"?{query(dict(params))}" if params else "")
        headers = {"X-Vault-Request": "true", "Accept": "application/json"}
        if authenticated and self.token:
            headers["X-Vault-Token"] = self.token
        if self.namespace:
            headers["X-Vault-Namespace"] = self.namespace
        payload = None
        if body is not None and method not in {"GET", "LIST"}:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(self.max_retries + 1):
            try:
                return self._once(method, target, payload, headers, path)
            except (VaultUnreachable, ServerError) as error:
                if attempt == self.max_retries or isinstance(error, VaultTLSError):
                    raise
                time.sleep((0.25 + 0.25 * int.from_bytes(os.urandom(1), "big") / 255) * (2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self, method: str, target: str, payload: bytes | None, headers: dict[str, str], path: str
    ) -> bytes | None:
        status, raw, retry_after = self._exchange(method, target, payload, headers, path)
        if status < 400:
            return raw or None
        try:
            document = json.loads(raw) if raw else None
        except ValueError:
            document = None
        raise self._error(status, document, raw, method=method, path=path, retry_after=retry_after)

    def _error(
        self, status: int, document: Any, raw: bytes, *, method: str, path: str, retry_after: float | None
    ) -> VaultError:
        errors: tuple[str, ...] = ()
        if isinstance(document, dict) and isinstance(document.get("errors"), list):
            errors = tuple(str(e) for e in document["errors"])
        elif raw and not isinstance(document, dict):
            errors = (raw[:200].decode(errors="replace"),)
        detail = (
            "; ".join(e.strip().replace("\n\t* ", " ").replace("\n", " ") for e in errors) or f"HTTP {status}"
        )
        cls = error_for_status(status)
        data = (
            document if cls is NotFound and isinstance(document, dict) and "errors" not in document else None
        )
        return cls(
            f"{method} {path}: {status} {detail}",
            status=status,
            errors=errors,
            method=method,
            path=path,
            data=data,
            retry_after=retry_after if cls is RateLimited else None,
        )

    def _exchange(
        self, method: str, target: str, payload: bytes | None, headers: dict[str, str], path: str
    ) -> tuple[int, bytes, float | None]:
        reused = self._connection is not None and self._connection.open
        try:
            response = self._connect().request(method, target, headers, payload)
        except (ConnectionClosed, BrokenPipeError, ConnectionResetError) as error:
            self.close()
            if reused:  # a kept-alive connection the server had closed: dial again once
                return self._exchange(method, target, payload, headers, path)
            raise VaultUnreachable(
                f"{method} {path}: connection lost: {error}", method=method, path=path
            ) from None
        except ssl.SSLError as error:
            self.close()
            reason = error.reason or error
            raise VaultTLSError(f"{method} {path}: TLS failed: {reason}", method=method, path=path) from None
        except OSError as error:
            self.close()
            message = f"{method} {path}: cannot reach {self.address}: {_reason(error)}"
            raise VaultUnreachable(message, method=method, path=path) from None
        return response.status, response.body, _retry_after(response.headers.get("retry-after"))

    def _connect(self) -> Connection:
        if self._connection is None:
            proxy = (self._proxy.host, self._proxy.port or 3128) if self._proxy is not None else None
            self._connection = Connection(
                self._host,
                self._port,
                tls=self._context,
                server_name=self._tls.server_name,
                timeout=self.timeout,
                proxy=proxy,
            )
        self._connection.timeout = self.timeout
        return self._connection


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host ({error.strerror})"
    return str(error) or type(error).__name__


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds, or as an HTTP date (RFC 9110 allows both)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import calendar  # only on this rare path: both cost the agent's cold start

    try:
        moment = calendar.timegm(time.strptime(value.strip(), "%a, %d %b %Y %H:%M:%S GMT"))
    except ValueError:
        return None
    return max(0.0, moment - time.time())
