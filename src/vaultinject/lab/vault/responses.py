"""Small constructors for common backend answers."""

from __future__ import annotations

import json
from typing import Any

from vaultinject.lab.vault.envelope import RawBody, Response, not_found


def data(payload: dict[str, Any], *, sys_injector: bool = False) -> Response:
    return Response(data=payload, sys_injector=sys_injector)


def no_content() -> Response:
    return Response()


def keys(names: list[str], *, sys_injector: bool = False, extra: dict[str, Any] | None = None) -> Response:
    """A LIST answer; an empty list is a 404 with no errors, as in Vault."""
    if not names:
        raise not_found()
    payload: dict[str, Any] = {"keys": names}
    if extra:
        payload.update(extra)
    return Response(data=payload, sys_injector=sys_injector)


def raw_json(status: int, payload: Any) -> Response:
    """A JSON body that is not the envelope (`sys/health`, `sys/seal-status`, `sys/init` ...)."""
    return Response(raw=RawBody(status, "application/json", json.dumps(payload).encode()))


def raw_empty(status: int) -> Response:
    return Response(raw=RawBody(status, "application/json", b""))


def with_warnings(response: Response, warnings: list[str]) -> Response:
    response.warnings.extend(warnings)
    return response
