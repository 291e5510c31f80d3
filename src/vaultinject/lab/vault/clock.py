"""The server's clock. Tests and drills may move it forward to make TTLs run out at once."""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall-clock time plus an offset that only ever grows."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, as the server sees them."""
        return time.time() + self._offset

    def now_int(self) -> int:
        """`now()` truncated to whole seconds, the precision of every Vault TTL."""
        return int(self.now())

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward; moving it back is refused because leases assume monotonic time."""
        if seconds < 0:
            raise ValueError("the lab clock only moves forward")
        with self._lock:
            self._offset += seconds
