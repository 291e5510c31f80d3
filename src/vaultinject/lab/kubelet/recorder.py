"""The kubelet's event recorder: Events over HTTPS as component `kubelet` on its node, repeats counted."""

from __future__ import annotations

import http.client
from typing import Any

from vaultinject.lab.controllers.events import CountingRecorder, EventWriteError
from vaultinject.lab.kube.clock import Clock
from vaultinject.lab.kubelet.api import ApiClient, ApiError

JSON = dict[str, Any]


def _message(error: ApiError) -> str:
    body = error.body
    return str(body.get("message", "")) if isinstance(body, dict) else f"HTTP {error.status}"


class Recorder(CountingRecorder):
    """Records Events for objects on this node; failures are logged, never raised."""

    def __init__(self, api: ApiClient, host: str, component: str = "kubelet") -> None:
        super().__init__(Clock(), component, host)
        self.api = api

    def _create(self, namespace: str, body: JSON) -> JSON:
        try:
            return self.api.post_json(f"/api/v1/namespaces/{namespace}/events", body)
        except ApiError as error:
            raise EventWriteError(error.status, _message(error)) from error
        except (OSError, http.client.HTTPException) as error:
            raise EventWriteError(0, str(error)) from error

    def _patch(self, namespace: str, name: str, patch: JSON) -> None:
        try:
            self.api.patch_json(f"/api/v1/namespaces/{namespace}/events/{name}", patch)
        except ApiError as error:
            raise EventWriteError(error.status, _message(error)) from error
        except (OSError, http.client.HTTPException) as error:
            raise EventWriteError(0, str(error)) from error
