"""The HTTP face of the core: HTTP request to `Request`, `Response`/`VaultError` to HTTP response.

Method mapping, `list=true`, JSON parsing and header handling follow `http/logical.go`
(`buildLogicalRequestNoAuth`). Error bodies are `{"errors": [...]}` with `Content-Type` exactly
`application/json`, which hvac requires.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from vaultinject.lab import httpbody
from vaultinject.lab.vault import ids
from vaultinject.lab.vault.durations import parse_duration
from vaultinject.lab.vault.envelope import Response, VaultError, error_body, multierror, render_envelope
from vaultinject.lab.vault.fields import parse_go_bool
from vaultinject.lab.vault.request import DELETE, HEAD, LIST, PATCH, READ, UPDATE, Request

if TYPE_CHECKING:
    from vaultinject.lab.vault.core import Core

JSON_TYPE = "application/json"


@dataclass
class HttpRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    remote_addr: str


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    request_id: str = ""
    extra_headers: list[tuple[str, str]] = field(default_factory=list)


class VaultAPI:
    """Callable turning one HTTP request into one HTTP response; it never raises."""

    def __init__(self, core: Core, on_error: Callable[[str], None] | None = None) -> None:
        self.core = core
        self.on_error = on_error or (lambda _text: None)

    def __call__(self, http: HttpRequest) -> HttpResponse:
        request_id = ids.new_uuid()
        try:
            request = self.build_request(http, request_id)
            response, mount_type = self.core.handle(request)
            rendered = self.render(http.method, response, request_id, mount_type)
            rendered.extra_headers.extend(request.response_headers)
            return rendered
        except VaultError as error:
            return _error_response(error, request_id)
        except Exception:
            self.on_error(traceback.format_exc())
            return _error_response(VaultError(500, multierror("internal error")), request_id)

    def build_request(self, http: HttpRequest, request_id: str) -> Request:
        url = urlsplit(http.target)
        if not url.path.startswith("/v1/"):
            raise VaultError(404)
        path = unquote(url.path[len("/v1/") :]).lstrip("/")
        query = parse_qs(url.query, keep_blank_values=True)
        method = http.method.upper()
        data: dict[str, Any] = {}
        if method == "GET":
            operation = READ
            if "list" in query:
                try:
                    listing = parse_go_bool(query["list"][0])
                except ValueError:
                    raise VaultError(400) from None
                if listing:
                    operation = LIST
            if operation == LIST:
                path = path if path.endswith("/") else path + "/"
            else:
                data = _query_data(query)
        elif method in ("POST", "PUT", "PATCH"):
            operation = PATCH if method == "PATCH" else UPDATE
            data = _json_body(http.body)
        elif method == "DELETE":
            operation, data = DELETE, _query_data(query)
        elif method == "LIST":
            operation, data = LIST, _query_data(query)
            path = path if path.endswith("/") else path + "/"
        elif method == "HEAD":
            operation, data = HEAD, _query_data(query)
        else:
            raise VaultError(405)
        return Request(
            operation=operation,
            path=path,
            data=data,
            client_token=_client_token(http.headers),
            remote_addr=http.remote_addr,
            request_id=request_id,
            wrap_ttl=_wrap_ttl(http.headers),
            headers=http.headers,
            query=query,
            content_type=http.headers.get("content-type", ""),
        )

    @staticmethod
    def render(method: str, response: Response, request_id: str, mount_type: str) -> HttpResponse:
        if response.raw is not None:
            body = b"" if method.upper() == "HEAD" else response.raw.body
            return HttpResponse(response.raw.status, body, response.raw.content_type, request_id)
        if response.status is None and response.is_empty():
            return HttpResponse(204, b"", "", request_id)
        envelope = render_envelope(response, request_id, mount_type)
        return HttpResponse(response.status or 200, json.dumps(envelope).encode(), JSON_TYPE, request_id)


def _error_response(error: VaultError, request_id: str) -> HttpResponse:
    body = json.dumps(error_body(error)).encode()
    return HttpResponse(error.status, body, JSON_TYPE, request_id, extra_headers=list(error.headers))


def _query_data(query: dict[str, list[str]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, values in query.items():
        if name == "help" or not values:
            continue
        data[name] = values[0] if len(values) == 1 else list(values)
    return data


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        parsed = httpbody.decode_json(body)
    except ValueError:
        raise VaultError(400, "error parsing JSON") from None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise VaultError(400, "error parsing JSON")
    return parsed


def _client_token(headers: dict[str, str]) -> str:
    token = headers.get("x-vault-token", "").strip()
    if token:
        return token
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _wrap_ttl(headers: dict[str, str]) -> int | None:
    raw = headers.get("x-vault-wrap-ttl", "").strip()
    if not raw:
        return None
    try:
        ttl = parse_duration(raw)
    except ValueError:
        raise VaultError(400, f"error parsing wrap TTL of {raw!r}") from None
    if ttl < 0:
        raise VaultError(400, "requested wrap TTL cannot be negative")
    return ttl or None
