"""Memory cgroups for containers with `resources.limits.memory`, so a container past its limit is killed
by the kernel's OOM killer and reported `OOMKilled`, as on a real node.

A cgroup is made under the kubelet's own memory cgroup: cgroup v1's `memory` hierarchy, or cgroup v2 where
the kubelet's cgroup delegates the memory controller to its children. Where neither is writable, limits
are not enforced (and `available()` says so); the kubelet logs it once.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_FS = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class MemoryCgroup:
    """One container's memory cgroup."""

    path: Path
    version: int  # 1 or 2

    @property
    def procs(self) -> Path:
        """Write a PID here to move that process into the cgroup."""
        return self.path / "cgroup.procs"

    def oom_killed(self, settle: float = 0.0) -> bool:
        """True once the kernel's OOM killer killed a process of this cgroup; waits up to `settle` seconds."""
        deadline = time.monotonic() + settle
        while not (killed := self._oom_kills() > 0) and time.monotonic() < deadline:
            time.sleep(0.01)
        return killed

    def _oom_kills(self) -> int:
        events = self.path / ("memory.oom_control" if self.version == 1 else "memory.events")
        try:
            lines = events.read_text().splitlines()
        except OSError:
            return 0
        counts = dict(line.split(" ", 1) for line in lines if " " in line)
        return int(counts.get("oom_kill", "0"))

    def remove(self) -> None:
        """Remove the (emptied) cgroup; a process still exiting may hold it for a moment."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def parent() -> tuple[Path, int] | None:
    """The memory cgroup this process may create children in, with its version; None where there is none."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            directory = CGROUP_FS / "memory" / path.lstrip("/")
            if os.access(directory, os.W_OK):
                return directory, 1
    unified = next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), None)
    if unified is None:
        return None
    for mount in (CGROUP_FS, CGROUP_FS / "unified"):
        directory = mount / unified.lstrip("/")
        with contextlib.suppress(OSError):
            if "memory" in (directory / "cgroup.subtree_control").read_text().split():
                return directory, 2
    return None


def remove_stale(prefix: str) -> int:
    """Remove the empty cgroups named `prefix*`: what an earlier, killed kubelet of this node left."""
    found = parent()
    if found is None:
        return 0
    removed = 0
    for path in found[0].glob(f"{prefix}*"):
        with contextlib.suppress(OSError):  # EBUSY: a process still runs in it
            path.rmdir()
            removed += 1
    return removed


def create(name: str, limit_bytes: int) -> MemoryCgroup | None:
    """A new memory cgroup `name` limited to `limit_bytes`, or None where cgroups cannot be made."""
    found = parent()
    if found is None:
        return None
    directory, version = found
    path = directory / name
    try:
        path.mkdir()
        limit_file = "memory.limit_in_bytes" if version == 1 else "memory.max"
        (path / limit_file).write_text(str(limit_bytes))
        if version == 2:
            with contextlib.suppress(OSError):  # no swap past the limit, as the kubelet sets it
                (path / "memory.swap.max").write_text("0")
        else:
            with contextlib.suppress(OSError):  # memory+swap: absent without swap accounting
                (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return MemoryCgroup(path, version)
