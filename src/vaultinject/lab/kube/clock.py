"""Server time: a shiftable wall clock and the two Kubernetes timestamp formats."""

from __future__ import annotations

import datetime as dt
import threading
import time


class Clock:
    """Wall-clock seconds since the epoch, which tests may move forward to expire tokens or grace periods."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds` (the server then behaves as if that time had passed)."""
        with self._lock:
            self._offset += seconds


def rfc3339(timestamp: float) -> str:
    """A `metav1.Time`: RFC 3339 in UTC at whole seconds, e.g. `2024-05-01T10:00:00Z`."""
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(timestamp: float) -> str:
    """A `metav1.MicroTime`: RFC 3339 in UTC with six fractional digits."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> float:
    """Parse an RFC 3339 timestamp the way Go does: a zone is required. Raises ValueError with Go's text."""
    layout = "2006-01-02T15:04:05Z07:00"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f'parsing time "{value}" as "{layout}": cannot parse "{value}" as "2006"') from None
    if parsed.tzinfo is None or "T" not in value:
        raise ValueError(f'parsing time "{value}" as "{layout}": cannot parse "" as "Z07:00"')
    return parsed.timestamp()
