"""What an HA standby does with a request (`handleRequestForwarding`, `respondStandby` in http/handler.go).

The seal and status endpoints are answered locally. Every other `/v1/` request is forwarded to the active
node and its status, headers and body are relayed unchanged. When the client sends
`X-Vault-No-Request-Forwarding`, or forwarding fails, the answer is a 307 to the active node's API address;
with no active node known it is a 500.

Real Vault forwards over mutually authenticated gRPC on the cluster port. The lab forwards over HTTP(S) to
the active node's API address and vouches for the original client address with a header keyed by a secret
in the shared storage, so token `bound_cidrs` still see the client, not the standby.
"""

from __future__ import annotations

import hmac
import http.client
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit

from vaultinject.lab.vault.api import HttpRequest, HttpResponse, VaultAPI
from vaultinject.lab.vault.core import NOT_ACTIVE
from vaultinject.lab.vault.durations import rfc3339
from vaultinject.lab.vault.ha import Advertisement, HANode

LOCAL_PATHS = frozenset({"sys/health", "sys/seal-status", "sys/leader", "sys/init", "sys/unseal", "sys/seal"})
NO_FORWARDING = "x-vault-no-request-forwarding"
FORWARDED_FOR = "x-vault-lab-forwarded-for"
FORWARDING_KEY = "x-vault-lab-forwarding-key"
# Never copied from one hop to the next (RFC 9110 7.6.1), or written by this server's own response writer.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"}
)
_WRITTEN_BY_US = frozenset({"date", "cache-control", "content-type", "content-length", *_HOP_BY_HOP})
LogSink = Callable[[dict[str, Any]], None]


class ForwardingError(Exception):
    """The active node could not be reached, or gave no HTTP answer."""


class StandbyGate:
    """The HTTP app of an HA node: serve when active (or for local paths), otherwise forward or redirect."""

    def __init__(
        self, api: VaultAPI, node: HANode, tls: ssl.SSLContext | None, timeout: float, log: LogSink
    ) -> None:
        self.api = api
        self.node = node
        self.tls = tls
        self.timeout = timeout
        self.log = log

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request, forwarded = self._accept_forwarded(request)
        path = vault_path(request.target)
        core = self.api.core
        if path is None or path in LOCAL_PATHS or core.seal.sealed or self.node.wait_settled():
            return self.api(request)
        leader = None if forwarded else self.node.leader()
        if leader is None:
            # A forwarded request that reached a node that is no longer active is not forwarded again.
            return _error(500, NOT_ACTIVE)
        if not request.headers.get(NO_FORWARDING):
            try:
                return self._forward(leader, request)
            except ForwardingError as error:
                self.log(
                    {
                        "time": rfc3339(time.time()),
                        "level": "error",
                        "msg": "request forwarding failed, redirecting the client",
                        "leader": leader.api_addr,
                        "error": str(error),
                    }
                )
        return redirect(leader, request.target)

    def _accept_forwarded(self, request: HttpRequest) -> tuple[HttpRequest, bool]:
        """Drop the forwarding headers; when their key is right, the request comes from a standby on behalf
        of the client named in `X-Vault-Lab-Forwarded-For`."""
        key = request.headers.get(FORWARDING_KEY)
        client = request.headers.get(FORWARDED_FOR)
        if key is None and client is None:
            return request, False
        headers = {k: v for k, v in request.headers.items() if k not in (FORWARDING_KEY, FORWARDED_FOR)}
        if key is None or client is None or not hmac.compare_digest(key, self.node.forwarding_key):
            return replace(request, headers=headers), False
        return replace(request, headers=headers, remote_addr=client), True

    def _forward(self, leader: Advertisement, request: HttpRequest) -> HttpResponse:
        url = urlsplit(leader.api_addr)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ForwardingError(f"the active node's address {leader.api_addr!r} is not an http(s) URL")
        connection: http.client.HTTPConnection
        if url.scheme == "https":
            connection = http.client.HTTPSConnection(
                url.hostname, url.port, timeout=self.timeout, context=self.tls
            )
        else:
            connection = http.client.HTTPConnection(url.hostname, url.port, timeout=self.timeout)
        headers = {name: value for name, value in request.headers.items() if name not in _HOP_BY_HOP}
        headers.pop("content-length", None)
        headers[FORWARDED_FOR] = request.remote_addr
        headers[FORWARDING_KEY] = self.node.forwarding_key
        try:
            connection.request(request.method, request.target, body=request.body, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as error:
            raise ForwardingError(str(error) or type(error).__name__) from None
        finally:
            connection.close()
        relayed = [(name, value) for name, value in answer.getheaders() if name.lower() not in _WRITTEN_BY_US]
        return HttpResponse(
            answer.status,
            body,
            answer.getheader("Content-Type", ""),
            _request_id(body),
            relayed,
        )


def vault_path(target: str) -> str | None:
    """The API path after `/v1/` without a trailing slash, or None for a target outside the API."""
    path = urlsplit(target).path
    if not path.startswith("/v1/"):
        return None
    return unquote(path[len("/v1/") :]).strip("/")


def redirect(leader: Advertisement, target: str) -> HttpResponse:
    """307 to the same path and query on the active node (`respondStandby`)."""
    url = urlsplit(leader.api_addr)
    original = urlsplit(target)
    location = f"{url.scheme or 'https'}://{url.netloc}{original.path}"
    if original.query:
        location += f"?{original.query}"
    return HttpResponse(307, b"", "", "", [("Location", location)])


def _error(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, json.dumps({"errors": [message]}).encode())


def _request_id(body: bytes) -> str:
    """The relayed envelope's request id, for this node's request log."""
    if not body.startswith(b"{"):
        return ""
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    return str(document.get("request_id", "")) if isinstance(document, dict) else ""
