"""The official client as the tests use it: loosely typed, since its models mark most fields optional and
the tests pass plain dicts as bodies, exactly as callers of the client do."""

from __future__ import annotations

import json
from typing import Any

import kubernetes.client as _client
import kubernetes.watch as _watch
from kubernetes.client.exceptions import ApiException

client: Any = _client
watch: Any = _watch

__all__ = ["ApiException", "client", "status_of", "watch"]


def status_of(error: ApiException) -> dict[str, Any]:
    """The decoded `Status` body of a failed call."""
    body: dict[str, Any] = json.loads(error.body or "{}")
    return body
