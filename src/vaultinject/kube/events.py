"""Kubernetes Events as client-go's recorder writes them: a repeated event is one Event with a count."""

from __future__ import annotations

import datetime
import logging
import time
from typing import Any, NamedTuple

from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event
from lightkube.types import PatchType

from vaultinject.kube.client import Kube
from vaultinject.kube.errors import KubeError, NotFound

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"
MAX_MESSAGE = 1024  # the API server rejects longer event messages (validation: 1 KiB in events.k8s.io)
CACHE_SIZE = 4096  # client-go's maxLruCacheEntries


class _Seen(NamedTuple):
    name: str
    namespace: str
    times: int


class EventRecorder:
    """Records Events for one component (`source.component`, `reportingController`) on one host.

    An event whose source, object, type, reason and message match one already recorded is not created
    again: the existing Event's `count` and `lastTimestamp` are patched, as client-go's EventCorrelator
    does. Recording never raises: an API failure is logged and the event dropped.
    """

    def __init__(self, kube: Kube, component: str, host: str = "", instance: str = "") -> None:
        self.kube = kube
        self.component = component
        self.host = host
        self.instance = instance or host or component
        self._seen: dict[tuple[str | None, ...], _Seen] = {}

    async def normal(self, obj: Any, reason: str, message: str) -> Event | None:
        return await self.record(obj, NORMAL, reason, message)

    async def warning(self, obj: Any, reason: str, message: str) -> Event | None:
        return await self.record(obj, WARNING, reason, message)

    async def record(self, obj: Any, type_: str, reason: str, message: str) -> Event | None:
        """Create or bump the Event about `obj` (a lightkube object). None when the API refused it."""
        ref = reference(obj)
        message = message[:MAX_MESSAGE]
        key: tuple[str | None, ...] = (self.component, self.host, ref.kind, ref.namespace, ref.name)
        key += (ref.uid, ref.apiVersion, type_, reason, message)
        try:
            seen = self._seen.get(key)
            if seen is not None:
                try:
                    return await self._bump(key, seen)
                except NotFound:
                    pass  # expired or deleted since: start a new one, as client-go does
            return await self._create(key, ref, type_, reason, message)
        except KubeError as error:
            log.warning("could not record event %s on %s/%s: %s", reason, ref.kind, ref.name, error)
            return None

    async def _create(
        self, key: tuple[str | None, ...], ref: ObjectReference, type_: str, reason: str, message: str
    ) -> Event:
        now = _now()
        namespace = ref.namespace or "default"
        event = Event(
            metadata=ObjectMeta(name=f"{ref.name}.{time.time_ns():x}", namespace=namespace),
            involvedObject=ref,
            reason=reason,
            message=message,
            type=type_,
            source=EventSource(component=self.component, host=self.host or None),
            firstTimestamp=now,
            lastTimestamp=now,
            count=1,
            reportingComponent=self.component,
            reportingInstance=self.instance,
        )
        created = await self.kube.create(event, namespace=namespace)
        self._remember(key, _Seen(created.metadata.name or "", namespace, 1))
        return created

    async def _bump(self, key: tuple[str | None, ...], seen: _Seen) -> Event:
        count = seen.times + 1
        patch = {"count": count, "lastTimestamp": _now().strftime("%Y-%m-%dT%H:%M:%SZ")}
        patched = await self.kube.patch(
            Event, seen.name, patch, namespace=seen.namespace, patch_type=PatchType.STRATEGIC
        )
        self._remember(key, seen._replace(times=count))
        return patched

    def _remember(self, key: tuple[str | None, ...], seen: _Seen) -> None:
        self._seen.pop(key, None)
        if len(self._seen) >= CACHE_SIZE:
            self._seen.pop(next(iter(self._seen)))
        self._seen[key] = seen


def reference(obj: Any) -> ObjectReference:
    """The ObjectReference an Event names for a lightkube object."""
    info = type(obj)._api_info.resource
    meta = obj.metadata
    return ObjectReference(
        apiVersion=info.api_version,
        kind=info.kind,
        name=meta.name,
        namespace=meta.namespace,
        uid=meta.uid,
        resourceVersion=meta.resourceVersion,
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)
