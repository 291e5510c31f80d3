"""The event recorder of the in-process components: deduplicates repeats into a growing `count`."""

from __future__ import annotations

import logging
import threading
from typing import Any

from vaultinject.lab import events
from vaultinject.lab.controllers.client import ApiError, Client
from vaultinject.lab.kube.clock import Clock

JSON = dict[str, Any]
log = logging.getLogger(__name__)
_MAX_REMEMBERED = 4096


class EventWriteError(Exception):
    """An Event could not be written; `status` is the HTTP code (0 when the server was not reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CountingRecorder:
    """Records Events as one component, counting repeats as client-go's correlator does; subclasses write."""

    def __init__(self, clock: Clock, component: str, host: str = "") -> None:
        self.clock = clock
        self.component = component
        self.host = host
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, ...], tuple[str, str, int]] = {}

    def normal(self, obj: JSON, reason: str, message: str, field_path: str = "") -> None:
        self.record(obj, events.NORMAL, reason, message, field_path)

    def warning(self, obj: JSON, reason: str, message: str, field_path: str = "") -> None:
        self.record(obj, events.WARNING, reason, message, field_path)

    def record(self, obj: JSON, event_type: str, reason: str, message: str, field_path: str = "") -> None:
        """Write the Event, or count one more of an identical one; failures are logged, never raised."""
        ref = events.reference(obj, field_path)
        key = events.correlation_key(
            ref, event_type, reason, message, component=self.component, host=self.host
        )
        now = self.clock.now()
        with self._lock:
            seen = self._seen.get(key)
        try:
            if seen is not None:
                namespace, name, count = seen
                self._patch(namespace, name, events.repeat_patch(count + 1, now))
                self._remember(key, namespace, name, count + 1)
                return
            body = events.event_body(
                ref, event_type, reason, message, component=self.component, host=self.host, now=now
            )
            created = self._create(body["metadata"]["namespace"], body)
            self._remember(key, created["metadata"]["namespace"], created["metadata"]["name"], 1)
        except EventWriteError as error:
            if seen is not None and error.status == 404:
                with self._lock:
                    self._seen.pop(key, None)
                self.record(obj, event_type, reason, message, field_path)
                return
            log.warning("could not record event %s for %s: %s", reason, ref.get("name"), error.message)

    def _create(self, namespace: str, body: JSON) -> JSON:
        raise NotImplementedError

    def _patch(self, namespace: str, name: str, patch: JSON) -> None:
        raise NotImplementedError

    def _remember(self, key: tuple[str, ...], namespace: str, name: str, count: int) -> None:
        with self._lock:
            if len(self._seen) >= _MAX_REMEMBERED:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = (namespace, name, count)


class Recorder(CountingRecorder):
    """Records Events as one in-process component (`deployment-controller`, `default-scheduler`, ...)."""

    def __init__(self, client: Client, clock: Clock, component: str, host: str = "") -> None:
        super().__init__(clock, component, host)
        self.client = client

    def _create(self, namespace: str, body: JSON) -> JSON:
        try:
            return self.client.create("events", namespace, body)
        except ApiError as error:
            raise EventWriteError(error.code, error.message) from error

    def _patch(self, namespace: str, name: str, patch: JSON) -> None:
        try:
            self.client.patch("events", namespace, name, patch)
        except ApiError as error:
            raise EventWriteError(error.code, error.message) from error
