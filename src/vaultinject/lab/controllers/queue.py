"""A rate-limited work queue as client-go's: a key is queued at most once, never handed to two workers
at a time, and may be added again after a delay (requeue-after, or backoff after a failure)."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
_BASE_BACKOFF = 0.005
_MAX_BACKOFF = 30.0


class WorkQueue(Generic[K]):
    """Dirty keys in order of arrival; delayed keys wait in a heap until they are due."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ready: list[K] = []
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._delayed: list[tuple[float, int, K]] = []
        self._seq = 0
        self._failures: dict[K, int] = {}
        self._closed = False

    def add(self, key: K) -> None:
        with self._cond:
            if self._closed or key in self._dirty:
                return
            self._dirty.add(key)
            if key not in self._processing:
                self._ready.append(key)
                self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            self._seq += 1
            heapq.heappush(self._delayed, (time.monotonic() + delay, self._seq, key))
            self._cond.notify()

    def add_rate_limited(self, key: K) -> float:
        """Requeue after a failure with exponential backoff (5 ms doubling to 30 s); returns the delay."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = min(_BASE_BACKOFF * 2.0**failures, _MAX_BACKOFF)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def get(self, timeout: float | None = None) -> K | None:
        """The next key to work on (mark it `done` afterwards), or None when closed or timed out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                self._promote_due()
                if self._closed:
                    return None
                if self._ready:
                    key = self._ready.pop(0)
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                self._cond.wait(self._next_wait(deadline))

    def done(self, key: K) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._ready.append(key)
                self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._ready) + len(self._delayed)

    def _promote_due(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            if key not in self._dirty:
                self._dirty.add(key)
                if key not in self._processing:
                    self._ready.append(key)

    def _next_wait(self, deadline: float | None) -> float | None:
        now = time.monotonic()
        waits = []
        if self._delayed:
            waits.append(self._delayed[0][0] - now)
        if deadline is not None:
            waits.append(deadline - now)
        return max(min(waits), 0.001) if waits else None
