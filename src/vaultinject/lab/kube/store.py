"""Object storage: an in-memory index written through to SQLite, one global resourceVersion counter,
and watch fan-out with a bounded per-resource event history (for resume, and 410 once it is gone).

Stored objects are never mutated in place: writers pass in a fresh dict and readers must copy before
changing what they get.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JSON = dict[str, Any]
ObjectKey = tuple[str, str]  # (namespace, name)


class StoreError(Exception):
    """Base of the storage outcomes the API layer turns into Status errors."""


class AlreadyExists(StoreError):
    pass


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    pass


class TooOld(StoreError):
    """A watch asked for history that is no longer held; `oldest` is the first version still available."""

    def __init__(self, oldest: int) -> None:
        super().__init__(oldest)
        self.oldest = oldest


@dataclass
class Change:
    """One committed write, as watch streams see it; `prev` is the state before it (None for ADDED)."""

    rv: int
    type: str
    storage: str
    obj: JSON
    prev: JSON | None
    encoded: dict[str, bytes] = field(default_factory=dict)


class WatchClosed(Exception):
    """The store shut down under a watcher."""


_CLOSE = object()


class Watcher:
    """A queue of changes for one storage key; `close()` unregisters it."""

    def __init__(self, store: Store, storage: str) -> None:
        self._store = store
        self.storage = storage
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()

    def put(self, change: Change) -> None:
        self._queue.put(change)

    def shutdown(self) -> None:
        self._queue.put(_CLOSE)

    def next(self, timeout: float) -> Change | None:
        """The next change, or None after `timeout` seconds without one."""
        try:
            item = self._queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None
        if item is _CLOSE:
            raise WatchClosed
        assert isinstance(item, Change)
        return item

    def close(self) -> None:
        self._store.unwatch(self)

    def idle(self) -> bool:
        return self._queue.empty()


class _History:
    def __init__(self, size: int, floor: int) -> None:
        self.changes: deque[Change] = deque()
        self.size = size
        self.floor = floor  # every change with rv > floor is held

    def append(self, change: Change) -> None:
        self.changes.append(change)
        while len(self.changes) > self.size:
            self.floor = self.changes.popleft().rv

    def since(self, rv: int) -> list[Change]:
        return [c for c in self.changes if c.rv > rv]


class Store:
    """The cluster's objects by storage key, namespace and name."""

    def __init__(self, path: Path | None = None, history_size: int = 5000) -> None:
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS objects (storage TEXT NOT NULL, namespace TEXT NOT NULL,"
            " name TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (storage, namespace, name))"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._objects: dict[str, dict[ObjectKey, JSON]] = {}
        self._uids: dict[str, tuple[str, ObjectKey]] = {}
        self._dependents: dict[str, set[tuple[str, ObjectKey]]] = {}
        self._watchers: dict[str, set[Watcher]] = {}
        self._listeners: list[Callable[[Change], None]] = []
        self._history_size = history_size
        self.rv = self._load()
        self._history_floor = self.rv  # nothing before this is held: the server just started
        self._histories: dict[str, _History] = {}
        self._closed = False

    def _load(self) -> int:
        for storage, namespace, name, body in self._db.execute(
            "SELECT storage, namespace, name, body FROM objects"
        ):
            self._index(storage, (namespace, name), json.loads(body))
        row = self._db.execute("SELECT value FROM meta WHERE key = 'rv'").fetchone()
        return int(row[0]) if row else 1

    # --- reads ---

    def get(self, storage: str, namespace: str, name: str) -> JSON | None:
        with self._lock:
            return self._objects.get(storage, {}).get((namespace, name))

    def list_objects(self, storage: str, namespace: str | None = None) -> tuple[list[JSON], int]:
        """Objects sorted by namespace and name, and the resourceVersion the list is consistent at."""
        with self._lock:
            items = self._objects.get(storage, {})
            keys = sorted(k for k in items if namespace is None or k[0] == namespace)
            return [items[k] for k in keys], self.rv

    def find_uid(self, uid: str) -> tuple[str, JSON] | None:
        with self._lock:
            where = self._uids.get(uid)
            if where is None:
                return None
            return where[0], self._objects[where[0]][where[1]]

    def dependents(self, owner_uid: str) -> list[tuple[str, JSON]]:
        """Objects whose ownerReferences name `owner_uid`."""
        with self._lock:
            return [
                (storage, self._objects[storage][key])
                for storage, key in sorted(self._dependents.get(owner_uid, ()))
                if key in self._objects.get(storage, {})
            ]

    def storages(self) -> list[str]:
        with self._lock:
            return list(self._objects)

    # --- writes ---

    def create(self, storage: str, obj: JSON) -> JSON:
        with self._lock:
            key = _key(obj)
            if key in self._objects.get(storage, {}):
                raise AlreadyExists
            return self._commit("ADDED", storage, key, obj, None)

    def update(self, storage: str, obj: JSON, expected_rv: str | None) -> JSON:
        """Replace an object; `expected_rv` (if given) must be the stored resourceVersion."""
        with self._lock:
            key = _key(obj)
            current = self._objects.get(storage, {}).get(key)
            if current is None:
                raise NotFound
            if expected_rv is not None and current["metadata"].get("resourceVersion") != expected_rv:
                raise Conflict
            return self._commit("MODIFIED", storage, key, obj, current)

    def delete(self, storage: str, namespace: str, name: str, expected_rv: str | None = None) -> JSON:
        with self._lock:
            current = self._objects.get(storage, {}).get((namespace, name))
            if current is None:
                raise NotFound
            if expected_rv is not None and current["metadata"].get("resourceVersion") != expected_rv:
                raise Conflict
            final = {**current, "metadata": dict(current["metadata"])}
            return self._commit("DELETED", storage, (namespace, name), final, current)

    def _commit(self, kind: str, storage: str, key: ObjectKey, obj: JSON, prev: JSON | None) -> JSON:
        if self._closed:
            raise StoreError("the store is closed")
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        with self._db:
            if kind == "DELETED":
                self._db.execute(
                    "DELETE FROM objects WHERE storage = ? AND namespace = ? AND name = ?", (storage, *key)
                )
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                    (storage, *key, json.dumps(obj, separators=(",", ":"))),
                )
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(self.rv),))
        if prev is not None:
            self._unindex(storage, key, prev)
        if kind != "DELETED":
            self._index(storage, key, obj)
        change = Change(self.rv, kind, storage, obj, prev)
        self._history(storage).append(change)
        for watcher in self._watchers.get(storage, ()):
            watcher.put(change)
        for listener in self._listeners:
            listener(change)
        return obj

    def _index(self, storage: str, key: ObjectKey, obj: JSON) -> None:
        self._objects.setdefault(storage, {})[key] = obj
        metadata = obj["metadata"]
        if metadata.get("uid"):
            self._uids[metadata["uid"]] = (storage, key)
        for ref in metadata.get("ownerReferences") or []:
            self._dependents.setdefault(ref.get("uid", ""), set()).add((storage, key))

    def _unindex(self, storage: str, key: ObjectKey, obj: JSON) -> None:
        self._objects.get(storage, {}).pop(key, None)
        metadata = obj["metadata"]
        if self._uids.get(metadata.get("uid", "")) == (storage, key):
            del self._uids[metadata["uid"]]
        for ref in metadata.get("ownerReferences") or []:
            self._dependents.get(ref.get("uid", ""), set()).discard((storage, key))

    def _history(self, storage: str) -> _History:
        history = self._histories.get(storage)
        if history is None:
            history = self._histories[storage] = _History(self._history_size, self._history_floor)
        return history

    # --- watch ---

    def watch(self, storage: str, since: int | None) -> tuple[list[JSON], Watcher]:
        """Register a watcher. With `since`, it is pre-filled with the held changes after that version
        (TooOld if some were dropped); without, the current objects come back to be sent as ADDED."""
        with self._lock:
            if self._closed:
                raise StoreError("the store is closed")
            watcher = Watcher(self, storage)
            initial: list[JSON] = []
            if since is None:
                initial, _ = self.list_objects(storage)
            else:
                history = self._history(storage)
                if since < history.floor:
                    raise TooOld(history.floor + 1)
                for change in history.since(since):
                    watcher.put(change)
            self._watchers.setdefault(storage, set()).add(watcher)
            return initial, watcher

    def unwatch(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers.get(watcher.storage, set()).discard(watcher)

    def quiet_rv(self, watcher: Watcher) -> int | None:
        """The current resourceVersion if `watcher` has consumed every change up to it (for bookmarks)."""
        with self._lock:
            return self.rv if watcher.idle() else None

    def subscribe(self, listener: Callable[[Change], None]) -> None:
        """Call `listener` with every committed change, under the store lock: it must only enqueue."""
        with self._lock:
            self._listeners.append(listener)

    def compact(self) -> None:
        """Forget all held watch history, as an etcd compaction does."""
        with self._lock:
            self._histories.clear()
            self._history_floor = self.rv

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for watchers in self._watchers.values():
                for watcher in watchers:
                    watcher.shutdown()
            self._watchers.clear()
            self._db.close()

    def watcher_count(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._watchers.values())

    def iter_all(self) -> Iterator[tuple[str, JSON]]:
        """Every stored object (a snapshot), for controllers that sweep."""
        with self._lock:
            snapshot = [(s, o) for s, objects in self._objects.items() for o in objects.values()]
        yield from snapshot


def _key(obj: JSON) -> ObjectKey:
    metadata = obj["metadata"]
    return metadata.get("namespace", ""), metadata["name"]
