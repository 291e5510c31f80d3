"""Physical storage: a key/value store of JSON documents, in memory or in SQLite.

Like Vault's storage backend, the core and every mount keep all their state here, so a server started
again on the same `--data-dir` comes back with the same mounts, policies, tokens, leases and secrets, and
HA nodes on one `--data-dir` see every write the moment it commits (as Raft would replicate it).
"""

from __future__ import annotations

import bisect
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Store:
    """Thread-safe JSON key/value storage. `transaction()` groups writes under one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()

    def get(self, key: str) -> Any:
        raise NotImplementedError

    def put(self, key: str, value: Any) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def keys(self, prefix: str) -> list[str]:
        """Every key that starts with `prefix`, sorted."""
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            yield

    def close(self) -> None:
        """Release the storage; later calls are errors."""

    @property
    def kind(self) -> str:
        raise NotImplementedError


class MemoryStore(Store):
    """State kept in this process only (no `--data-dir`)."""

    def __init__(self) -> None:
        super().__init__()
        self._values: dict[str, str] = {}
        self._sorted: list[str] = []

    @property
    def kind(self) -> str:
        return "inmem"

    def get(self, key: str) -> Any:
        with self.lock:
            raw = self._values.get(key)
        return None if raw is None else json.loads(raw)

    def put(self, key: str, value: Any) -> None:
        raw = json.dumps(value)
        with self.lock:
            if key not in self._values:
                bisect.insort(self._sorted, key)
            self._values[key] = raw

    def delete(self, key: str) -> None:
        with self.lock:
            if self._values.pop(key, None) is not None:
                index = bisect.bisect_left(self._sorted, key)
                del self._sorted[index]

    def keys(self, prefix: str) -> list[str]:
        with self.lock:
            start = bisect.bisect_left(self._sorted, prefix)
            end = bisect.bisect_left(self._sorted, _prefix_end(prefix)) if prefix else len(self._sorted)
            return self._sorted[start:end]


class SqliteStore(Store):
    """State in `<data-dir>/vault.db`, surviving restarts like a Vault pod's persistent volume."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        # HA nodes share the file: WAL lets readers see each commit at once without blocking the writer,
        # and the busy timeout makes a second writer (a racing initialization) wait instead of failing.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._depth = 0

    @property
    def kind(self) -> str:
        return "file"

    def get(self, key: str) -> Any:
        with self.lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        raw = json.dumps(value)
        with self.lock:
            self._db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, raw))

    def delete(self, key: str) -> None:
        with self.lock:
            self._db.execute("DELETE FROM kv WHERE key = ?", (key,))

    def keys(self, prefix: str) -> list[str]:
        with self.lock:
            if not prefix:
                rows = self._db.execute("SELECT key FROM kv ORDER BY key").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key",
                    (prefix, _prefix_end(prefix)),
                ).fetchall()
        return [row[0] for row in rows]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            outermost = self._depth == 0
            if outermost:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outermost:
                self._db.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self._db.close()


class StorageView:
    """A store seen through a key prefix, as each mount sees its own storage (`logical.Storage`)."""

    def __init__(self, store: Store, prefix: str) -> None:
        self.store = store
        self.prefix = prefix

    def get(self, key: str) -> Any:
        return self.store.get(self.prefix + key)

    def put(self, key: str, value: Any) -> None:
        self.store.put(self.prefix + key, value)

    def delete(self, key: str) -> None:
        self.store.delete(self.prefix + key)

    def keys(self, prefix: str = "") -> list[str]:
        """Every key under `prefix`, relative to this view."""
        cut = len(self.prefix)
        return [key[cut:] for key in self.store.keys(self.prefix + prefix)]

    def children(self, prefix: str) -> list[str]:
        """Vault's `List`: the immediate children of `prefix`, folders suffixed with `/`."""
        names: list[str] = []
        seen: set[str] = set()
        for key in self.keys(prefix):
            rest = key[len(prefix) :]
            head, slash, _ = rest.partition("/")
            name = head + slash
            if name and name not in seen:
                seen.add(name)
                names.append(name)
        return names

    def delete_prefix(self, prefix: str = "") -> None:
        with self.store.transaction():
            for key in self.keys(prefix):
                self.delete(key)

    def transaction(self) -> Any:
        return self.store.transaction()


def _prefix_end(prefix: str) -> str:
    """The smallest string greater than every string that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
