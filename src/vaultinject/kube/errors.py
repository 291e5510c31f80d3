"""Typed errors for Kubernetes API answers, mapped from the `Status` the API server returns."""

from __future__ import annotations

import httpx2
from lightkube import ApiError


class KubeError(Exception):
    """The API server refused a request, or could not be reached. `code` is the HTTP status (0: no answer)."""

    code = 0
    reason = ""

    def __init__(self, message: str, code: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if reason:
            self.reason = reason


class KubeConfigError(KubeError):
    """No usable kubeconfig or in-cluster service account."""


class Unreachable(KubeError):
    """The API server did not answer (connection refused, TLS failure, timeout)."""


class Unauthorized(KubeError):
    code, reason = 401, "Unauthorized"


class Forbidden(KubeError):
    code, reason = 403, "Forbidden"


class NotFound(KubeError):
    code, reason = 404, "NotFound"


class Conflict(KubeError):
    """409: the object changed since it was read (or already exists: see `AlreadyExists`)."""

    code, reason = 409, "Conflict"


class AlreadyExists(Conflict):
    reason = "AlreadyExists"


class Gone(KubeError):
    """410: a watch or list asked for a resourceVersion the server no longer has."""

    code, reason = 410, "Expired"


class Invalid(KubeError):
    code, reason = 422, "Invalid"


_BY_CODE: dict[int, type[KubeError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
}


def from_api_error(error: ApiError) -> KubeError:
    """Our error for a lightkube `ApiError`, keeping the server's message, code and reason."""
    status = error.status
    code = int(status.code or 0)
    reason = str(status.reason or "")
    message = str(status.message or reason or f"HTTP {code}")
    cls = AlreadyExists if reason == "AlreadyExists" else _BY_CODE.get(code, KubeError)
    return cls(message, code, reason)


def from_transport_error(error: httpx2.HTTPError) -> KubeError:
    """An `Unreachable` for a request that got no answer from the API server."""
    return Unreachable(f"the Kubernetes API server did not answer: {error}")
