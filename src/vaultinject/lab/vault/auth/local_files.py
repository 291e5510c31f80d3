"""Files re-read on a schedule and whenever they change: the server's own service-account token and CA.

Vault's Kubernetes auth re-reads the local token every minute and the CA every hour
(`caching_file_reader.go`); the lab also notices a changed file at once, so a rotated projected token is used
on the next login.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


class CachingFileReader:
    """`read()` returns the file's text, cached for `ttl` seconds or until the file changes."""

    def __init__(self, path: Path, ttl: float, now: Callable[[], float]) -> None:
        self.path = path
        self.ttl = ttl
        self.now = now
        self._lock = threading.Lock()
        self._text: str | None = None
        self._read_at = 0.0
        self._signature: tuple[int, int, int] | None = None

    def read(self) -> str:
        """The current content; raises OSError (like Go's `os.ReadFile`) when it cannot be read."""
        with self._lock:
            signature = self._stat()
            fresh = self._text is not None and self.now() - self._read_at < self.ttl
            if fresh and signature == self._signature:
                assert self._text is not None
                return self._text
            self._text = self.path.read_text()
            self._read_at = self.now()
            self._signature = signature
            return self._text

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            status = os.stat(self.path)
        except OSError:
            return None
        return status.st_ino, status.st_mtime_ns, status.st_size


def go_open_error(path: Path, error: OSError) -> str:
    """The text Go's `os.ReadFile` error would have."""
    reason = (
        "no such file or directory" if isinstance(error, FileNotFoundError) else (error.strerror or "error")
    )
    return f"open {path}: {reason.lower()}"
