"""A time-ordered queue of things that expire (tokens, leases), drained by the server's sweeper thread."""

from __future__ import annotations

import heapq
import threading


class ExpiryQueue:
    """Entries are (when, kind, id). A renewed item is simply pushed again; stale entries are skipped
    by the consumer, which re-checks the stored expiry before revoking anything."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()

    def push(self, when: float, kind: str, item_id: str) -> None:
        if when <= 0:
            return
        with self._lock:
            heapq.heappush(self._heap, (when, kind, item_id))

    def pop_due(self, now: float) -> list[tuple[str, str]]:
        """Remove and return every (kind, id) due at `now`."""
        due: list[tuple[str, str]] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                _, kind, item_id = heapq.heappop(self._heap)
                due.append((kind, item_id))
        return due

    def clear(self) -> None:
        with self._lock:
            self._heap.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._heap)
