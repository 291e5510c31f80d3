"""The kubelet's event recorder: Events over HTTPS as component `kubelet` on its node, repeats counted."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from vaultinject.lab import events
from vaultinject.lab.kubelet.api import ApiClient, ApiError

JSON = dict[str, Any]
log = logging.getLogger(__name__)
_MAX_REMEMBERED = 4096


class Recorder:
    """Records Events for objects on this node; failures are logged, never raised."""

    def __init__(self, api: ApiClient, host: str, component: str = "kubelet") -> None:
        self.api = api
        self.host = host
        self.component = component
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, ...], tuple[str, str, int]] = {}

    def normal(self, obj: JSON, reason: str, message: str, field_path: str = "") -> None:
        self.record(obj, events.NORMAL, reason, message, field_path)

    def warning(self, obj: JSON, reason: str, message: str, field_path: str = "") -> None:
        self.record(obj, events.WARNING, reason, message, field_path)

    def record(self, obj: JSON, event_type: str, reason: str, message: str, field_path: str = "") -> None:
        ref = events.reference(obj, field_path)
        key = events.correlation_key(
            ref, event_type, reason, message, component=self.component, host=self.host
        )
        now = time.time()
        with self._lock:
            seen = self._seen.get(key)
        try:
            if seen is not None:
                namespace, name, count = seen
                path = f"/api/v1/namespaces/{namespace}/events/{name}"
                self.api.patch_json(path, events.repeat_patch(count + 1, now))
                self._remember(key, namespace, name, count + 1)
                return
            body = events.event_body(
                ref, event_type, reason, message, component=self.component, host=self.host, now=now
            )
            namespace = body["metadata"]["namespace"]
            created = self.api.post_json(f"/api/v1/namespaces/{namespace}/events", body)
            self._remember(key, namespace, created["metadata"]["name"], 1)
        except ApiError as error:
            if seen is not None and error.status == 404:
                with self._lock:
                    self._seen.pop(key, None)
                self.record(obj, event_type, reason, message, field_path)
                return
            log.warning("could not record event %s for %s: HTTP %s", reason, ref.get("name"), error.status)
        except OSError as error:
            log.warning("could not record event %s for %s: %s", reason, ref.get("name"), error)

    def _remember(self, key: tuple[str, ...], namespace: str, name: str, count: int) -> None:
        with self._lock:
            if len(self._seen) >= _MAX_REMEMBERED:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = (namespace, name, count)
