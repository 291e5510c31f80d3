"""Watch streams: newline-delimited `{"type","object"}` events with resume, bookmarks, timeouts and 410."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from vaultinject.lab.kube import views
from vaultinject.lab.kube.clock import Clock
from vaultinject.lab.kube.resources import ResourceType
from vaultinject.lab.kube.status import ApiError, bad_request, expired
from vaultinject.lab.kube.store import Change, Store, StoreError, TooOld, WatchClosed, Watcher

JSON = dict[str, Any]
HEARTBEAT = b""  # yielded while idle so the server can notice a client that went away
_IDLE_WAKEUP = 1.0


@dataclass
class WatchRequest:
    rt: ResourceType
    namespace: str | None
    matches: Callable[[JSON], bool]
    resource_version: str
    timeout: float
    bookmarks: bool
    send_initial_events: bool
    name: str | None = None
    as_table: Callable[[JSON], JSON] | None = None  # kubectl get -w asks for Table rows


def _line(event_type: str, encoded_object: bytes) -> bytes:
    return b'{"type":"' + event_type.encode() + b'","object":' + encoded_object + b"}\n"


def _encode(obj: JSON) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class WatchStream:
    """One client's watch. Construct it before sending headers: a bad request raises ApiError there."""

    def __init__(self, store: Store, clock: Clock, request: WatchRequest, bookmark_interval: float) -> None:
        self.store = store
        self.clock = clock
        self.request = request
        self.bookmark_interval = bookmark_interval
        self.deadline = clock.now() + request.timeout
        self.expired: ApiError | None = None
        self.watcher: Watcher | None
        since = self._since(request.resource_version, request.send_initial_events)
        try:
            self.initial, self.watcher = store.watch(request.rt.storage_key, since)
        except TooOld as error:
            self.initial, self.watcher = [], None
            self.expired = expired(f"too old resource version: {since} ({error.oldest})")
        except StoreError:
            raise ApiError(503, "ServiceUnavailable", "the server is shutting down") from None

    @staticmethod
    def _since(resource_version: str, send_initial_events: bool) -> int | None:
        if send_initial_events or resource_version in ("", "0"):
            return None
        try:
            return int(resource_version)
        except ValueError:
            raise bad_request(
                f'Invalid value: "{resource_version}": resourceVersion must be an integer'
            ) from None

    def _wanted(self, obj: JSON | None) -> bool:
        if obj is None:
            return False
        metadata = obj["metadata"]
        if self.request.namespace is not None and metadata.get("namespace", "") != self.request.namespace:
            return False
        if self.request.name is not None and metadata.get("name") != self.request.name:
            return False
        return self.request.matches(obj)

    def _present(self, obj: JSON) -> bytes:
        shown = views.from_storage(self.request.rt, obj)
        return _encode(self.request.as_table(shown) if self.request.as_table else shown)

    def _object_bytes(self, change: Change) -> bytes:
        key = self.request.rt.api_version + ("|table" if self.request.as_table else "")
        encoded = change.encoded.get(key)
        if encoded is None:
            encoded = change.encoded[key] = self._present(change.obj)
        return encoded

    def _event_for(self, change: Change) -> bytes | None:
        now_wanted = change.type != "DELETED" and self._wanted(change.obj)
        was_wanted = change.type != "ADDED" and self._wanted(
            change.prev if change.type != "DELETED" else change.obj
        )
        if change.type == "DELETED":
            return _line("DELETED", self._object_bytes(change)) if was_wanted else None
        if now_wanted:
            return _line("MODIFIED" if was_wanted else "ADDED", self._object_bytes(change))
        return _line("DELETED", self._object_bytes(change)) if was_wanted else None

    def _bookmark(self, rv: int, initial_end: bool = False) -> bytes:
        metadata: JSON = {"resourceVersion": str(rv)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        return _line(
            "BOOKMARK",
            _encode(
                {
                    "kind": self.request.rt.kind,
                    "apiVersion": self.request.rt.api_version,
                    "metadata": metadata,
                }
            ),
        )

    def events(self) -> Iterator[bytes]:
        """Encoded event lines; HEARTBEAT while idle; ends at the timeout, on 410, or at shutdown."""
        if self.expired is not None:
            yield _line("ERROR", _encode(self.expired.status()))
            return
        assert self.watcher is not None
        try:
            yield from self._initial_events()
            yield from self._changes()
        except WatchClosed:
            return
        finally:
            self.watcher.close()

    def _initial_events(self) -> Iterator[bytes]:
        last_rv = 0
        for obj in self.initial:
            last_rv = max(last_rv, int(obj["metadata"].get("resourceVersion", 0)))
            if self._wanted(obj):
                yield _line("ADDED", self._present(obj))
        if self.request.send_initial_events and self.request.bookmarks:
            yield self._bookmark(max(last_rv, self.store.rv), initial_end=True)

    def _changes(self) -> Iterator[bytes]:
        assert self.watcher is not None
        next_bookmark = self.clock.now() + self.bookmark_interval
        while True:
            now = self.clock.now()
            if now >= self.deadline:
                return
            wait = min(self.deadline - now, _IDLE_WAKEUP)
            if self.request.bookmarks:
                wait = min(wait, max(next_bookmark - now, 0.0))
            change = self.watcher.next(wait)
            if change is not None:
                line = self._event_for(change)
                if line is not None:
                    yield line
                continue
            if self.request.bookmarks and self.clock.now() >= next_bookmark:
                rv = self.store.quiet_rv(self.watcher)
                if rv is not None:
                    yield self._bookmark(rv)
                next_bookmark = self.clock.now() + self.bookmark_interval
            else:
                yield HEARTBEAT
