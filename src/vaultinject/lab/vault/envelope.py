"""Responses and errors, and the JSON envelope Vault wraps them in.

Field order and names follow `logical.HTTPResponse` (sdk/logical/translate_response.go). Backends return
a `Response` or raise a `VaultError`; the core fills in tokens, leases and wrapping; `render_envelope`
writes the wire form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]


class VaultError(Exception):
    """An error response: HTTP status and the `errors` list, sent as `{"errors": [...]}`."""

    def __init__(self, status: int, *errors: str) -> None:
        super().__init__(f"{status}: {'; '.join(errors)}")
        self.status = status
        self.errors = list(errors)
        self.headers: list[tuple[str, str]] = []  # extra response headers (Retry-After on a 429)


def multierror(*messages: str) -> str:
    """The text of a Go `multierror` with these messages, as Vault puts it on the wire."""
    noun = "error" if len(messages) == 1 else "errors"
    items = "".join(f"\t* {message}\n" for message in messages)
    return f"{len(messages)} {noun} occurred:\n{items}\n"


def bad_request(message: str) -> VaultError:
    """A backend `logical.ErrorResponse`: 400 with the bare message."""
    return VaultError(400, message)


def coded(status: int, message: str) -> VaultError:
    """A `logical.CodedError`: the given status with the bare message."""
    return VaultError(status, message)


def permission_denied() -> VaultError:
    """An ACL denial for a valid token."""
    return VaultError(403, multierror("permission denied"))


def invalid_token() -> VaultError:
    """A missing, expired or revoked token."""
    return VaultError(403, multierror("permission denied", "invalid token"))


def login_denied() -> VaultError:
    """An auth plugin's `logical.ErrPermissionDenied` on a login path: a bare string."""
    return VaultError(403, "permission denied")


def not_found() -> VaultError:
    """A read or list that found nothing: 404 with an empty `errors` list."""
    return VaultError(404)


def unsupported_path() -> VaultError:
    return VaultError(404, multierror("unsupported path"))


def unsupported_operation() -> VaultError:
    return VaultError(405, multierror("unsupported operation"))


def no_handler(path: str) -> VaultError:
    return VaultError(404, f'no handler for route "{path}". route entry not found.')


def sealed() -> VaultError:
    return VaultError(503, "Vault is sealed")


def internal_error(message: str) -> VaultError:
    return VaultError(500, message)


@dataclass
class LoginGrant:
    """What an auth method decided at login; the core turns it into a token (`logical.Auth`)."""

    policies: list[str]
    metadata: dict[str, str]
    display_name: str
    alias_name: str
    internal: JsonDict = field(default_factory=dict)
    ttl: int = 0
    max_ttl: int = 0
    period: int = 0
    explicit_max_ttl: int = 0
    num_uses: int = 0
    no_default_policy: bool = False
    bound_cidrs: list[str] = field(default_factory=list)
    token_type: str = "default"
    renewable: bool = True


@dataclass
class LeaseRequest:
    """A secret an engine wants leased (`logical.Secret`); the core registers it with the lease manager."""

    ttl: int
    max_ttl: int
    renewable: bool
    internal: JsonDict = field(default_factory=dict)


@dataclass
class RawBody:
    """A response that is not the JSON envelope (for example PKI's `ca/pem`)."""

    status: int
    content_type: str
    body: bytes


@dataclass
class Response:
    """A successful answer before it is rendered."""

    data: JsonDict | None = None
    warnings: list[str] = field(default_factory=list)
    login: LoginGrant | None = None
    lease: LeaseRequest | None = None
    auth: JsonDict | None = None
    lease_id: str = ""
    lease_duration: int = 0
    renewable: bool = False
    wrap_info: JsonDict | None = None
    status: int | None = None
    raw: RawBody | None = None
    sys_injector: bool = False
    force_envelope: bool = False

    def is_empty(self) -> bool:
        """True when Vault would answer 204 with no body."""
        return (
            self.data is None
            and self.auth is None
            and not self.warnings
            and self.wrap_info is None
            and not self.lease_id
            and not self.force_envelope
        )


def render_envelope(response: Response, request_id: str, mount_type: str) -> JsonDict:
    """The wire envelope. `sys_injector` responses repeat each `data` key at the top level too."""
    body: JsonDict = {}
    if response.sys_injector and response.data is not None:
        body.update(response.data)
    body.update(
        {
            "request_id": request_id,
            "lease_id": response.lease_id,
            "renewable": response.renewable,
            "lease_duration": response.lease_duration,
            "data": response.data,
            "wrap_info": response.wrap_info,
            "warnings": response.warnings or None,
            "auth": response.auth,
            "mount_type": mount_type,
        }
    )
    return body


def error_body(error: VaultError) -> JsonDict:
    return {"errors": error.errors}
