"""Container output to CRI log files: one pipe per stream, a thread per pipe writing timestamped lines.

Files follow `lab/kube/logs.py` (`<root>/<ns>_<pod>_<uid>/<container>/<restartCount>.log`, lines
`<RFC3339Nano> <stream> <P|F> <text>`), which the API server's `pods/log` serves. A line longer than
16 KiB is split into partial (`P`) records as containerd does.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from vaultinject.lab.kube.logs import pod_log_dir, timestamp

JSON = dict[str, Any]
MAX_RECORD = 16 * 1024


def log_path(root: Path, pod: JSON, container: str, restart_count: int) -> Path:
    metadata = pod["metadata"]
    directory = pod_log_dir(root, metadata["namespace"], metadata["name"], metadata["uid"]) / container
    return directory / f"{restart_count}.log"


class ContainerLog:
    """A container's log file fed by two pipes whose write ends (`stdout_fd`, `stderr_fd`) it inherits."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o640)
        self.path = path
        self._file: BinaryIO = path.open("ab", buffering=0)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._child_ends: list[int] = []
        for stream in ("stdout", "stderr"):
            read_fd, write_fd = os.pipe()
            self._child_ends.append(write_fd)
            thread = threading.Thread(target=self._copy, args=(read_fd, stream), daemon=True)
            thread.start()
            self._threads.append(thread)
        self.stdout_fd, self.stderr_fd = self._child_ends

    def close_child_ends(self) -> None:
        """Close this process's copies of the write ends: the copiers end when the container's do."""
        for fd in self._child_ends:
            os.close(fd)
        self._child_ends = []

    def _copy(self, read_fd: int, stream: str) -> None:
        pending = b""
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._record(stream, line)
                while len(pending) > MAX_RECORD:
                    self._record(stream, pending[:MAX_RECORD], partial=True)
                    pending = pending[MAX_RECORD:]
        if pending:
            self._record(stream, pending)

    def _record(self, stream: str, text: bytes, partial: bool = False) -> None:
        tag = b"P" if partial else b"F"
        line = b"%s %s %s %s\n" % (timestamp(time.time()).encode(), stream.encode(), tag, text)
        with self._lock:
            self._file.write(line)

    def close(self, timeout: float = 5.0) -> None:
        """Wait for the copiers to drain (the container has exited) and close the file."""
        if self._child_ends:
            self.close_child_ends()
        for thread in self._threads:
            thread.join(timeout)
        self._file.close()
