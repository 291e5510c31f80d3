"""Typed Vault errors, mapped from status codes, each with a cause class and a hint for the operator."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class VaultError(Exception):
    """A failed Vault request. `cause` classifies it; `hint` says what usually fixes it.

    Messages never include tokens or secret data: only the method, the path and Vault's error texts.
    """

    cause = "vault"
    hint = "see Vault's error text"

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        errors: tuple[str, ...] = (),
        method: str = "",
        path: str = "",
        data: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors
        self.method = method
        self.path = path
        self.data = data  # NotFound: the envelope of a deleted KV v2 version
        self.retry_after = retry_after  # RateLimited: Vault's advice in seconds


class VaultUnreachable(VaultError):
    """No HTTP answer: connection refused, timeout, DNS, TLS."""

    cause = "unreachable"
    hint = "check the Vault address, the network path from the pod to Vault, and that Vault is running"


class VaultTLSError(VaultUnreachable):
    """The TLS handshake failed, usually an untrusted or mismatched certificate."""

    cause = "tls"
    hint = "check ca-cert / tls-server-name annotations against Vault's certificate"


class InvalidRequest(VaultError):
    cause = "invalid-request"
    hint = "check the role name and the request parameters"


class PermissionDenied(VaultError):
    cause = "permission-denied"
    hint = "the token lacks a policy for this path, or the login was refused"


class NotFound(VaultError):
    """404: no secret at the path, or (KV v2) a deleted version; `data` holds such a version's envelope."""

    cause = "not-found"
    hint = "check the secret path (KV v2 paths need /data/ after the mount)"


class RateLimited(VaultError):
    """429: Vault's rate-limit quota; `retry_after` is Vault's advice in seconds, if it gave one."""

    cause = "rate-limited"
    hint = "Vault is shedding load; the agent backs off and retries"


class VaultSealed(VaultError):
    cause = "sealed"
    hint = "Vault is sealed or in standby without a leader; unseal it"


class VaultNotInitialized(VaultError):
    cause = "not-initialized"
    hint = "Vault has not been initialized"


class ServerError(VaultError):
    cause = "server-error"
    hint = "Vault failed internally; check Vault's logs"


def error_for_status(status: int) -> type[VaultError]:
    """The error class of an HTTP status, as hvac and Vault's own client classify them."""
    if status == 400:
        return InvalidRequest
    if status in {401, 403}:
        return PermissionDenied
    if status == 404:
        return NotFound
    if status == 429:
        return RateLimited
    if status == 501:
        return VaultNotInitialized
    if status == 503:
        return VaultSealed
    if status >= 500:
        return ServerError
    return VaultError
