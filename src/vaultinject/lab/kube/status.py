"""`Status` errors with the reasons, codes and message formats of k8s.io/apimachinery/pkg/api/errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True)
class GroupResource:
    """A resource within an API group; prints as `pods` or `deployments.apps`, like Go's GroupResource."""

    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


class ApiError(Exception):
    """A failed request, rendered as a `Status` object with an HTTP status code."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: JSON | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or []

    def status(self) -> JSON:
        """The `Status` object, with keys in the order the API server writes them."""
        body: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        body["message"] = self.message
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def body(self) -> bytes:
        return json.dumps(self.status(), separators=(",", ":")).encode() + b"\n"


def _details(gr: GroupResource, name: str, **extra: Any) -> JSON:
    details: JSON = {}
    if name:
        details["name"] = name
    if gr.group:
        details["group"] = gr.group
    details["kind"] = gr.resource
    details.update(extra)
    return details


def not_found(gr: GroupResource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{gr} "{name}" not found', _details(gr, name))


def already_exists(gr: GroupResource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{gr} "{name}" already exists', _details(gr, name))


MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def conflict(gr: GroupResource, name: str, why: str = MODIFIED) -> ApiError:
    return ApiError(
        409, "Conflict", f'Operation cannot be fulfilled on {gr} "{name}": {why}', _details(gr, name)
    )


def forbidden(gr: GroupResource | None, name: str, why: str) -> ApiError:
    if gr is None:
        return ApiError(403, "Forbidden", f"forbidden: {why}", {})
    subject = f'{gr} "{name}"' if name else str(gr)
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(gr, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def method_not_allowed() -> ApiError:
    """go-restful's 405 for a path with no route for the method, as `NewGenericServerResponse` wraps it."""
    cause = {"reason": "UnexpectedServerResponse", "message": "405: Method Not Allowed"}
    return ApiError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {"causes": [cause]},
    )


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def internal(message: str) -> ApiError:
    return ApiError(
        500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]}
    )


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    del content_type  # the API server does not repeat it
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def not_acceptable(accepted: list[str]) -> ApiError:
    return ApiError(
        406,
        "NotAcceptable",
        "only the following media types are accepted: " + ", ".join(accepted),
    )


def unprocessable_patch() -> ApiError:
    """What a JSON patch that cannot apply (a failed `test`, a missing path) gets from the API server."""
    return ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {})


# --- field errors (k8s.io/apimachinery/pkg/util/validation/field) ---

_TYPE_TEXT = {
    "FieldValueRequired": "Required value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueNotFound": "Not found",
    "FieldValueTooLong": "Too long",
}
_NO_VALUE = {"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong"}


@dataclass(frozen=True)
class FieldError:
    """One validation failure on one field; `str()` gives Go's `field: body` text."""

    reason: str
    field: str
    detail: str = ""
    value: Any = None

    def body(self) -> str:
        text = _TYPE_TEXT[self.reason]
        if self.reason not in _NO_VALUE:
            text += ": " + _go_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def required(path: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", path, detail)


def invalid_value(path: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", path, detail, value)


def not_supported(path: str, value: Any, supported: list[str]) -> FieldError:
    return FieldError(
        "FieldValueNotSupported", path, "supported values: " + ", ".join(f'"{s}"' for s in supported), value
    )


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", path, "", value)


def field_forbidden(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", path, detail)


class GoLiteral(str):
    """A value already rendered the way Go's `%#v` prints it (a map or struct), shown unquoted."""

    __slots__ = ()


def _go_value(value: Any) -> str:
    if isinstance(value, GoLiteral):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    """422 Invalid: `<Kind>[.<group>] "<name>" is invalid: <errors>`, with one cause per error."""
    qualified = f"{kind}.{group}" if group else kind
    joined = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    details: JSON = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {joined}', details)
