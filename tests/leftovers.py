"""What a test run may leave behind on the machine: mounts, processes and temporary directories.

`tests/conftest.py` snapshots these when the session starts and fails the session if any new one
remains at its end; `tests/test_leftovers.py` proves the detectors see each kind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def mount_points() -> set[str]:
    """Mount points of this process's mount namespace (field 5 of /proc/self/mountinfo)."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return {line.split()[4] for line in lines if len(line.split()) > 4}


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(root: int) -> set[int]:
    """Every live process whose chain of parents reaches `root` (zombies included)."""
    parents = {int(entry): _parent(int(entry)) for entry in os.listdir("/proc") if entry.isdigit()}
    found: set[int] = set()
    for pid in parents:
        seen, current = set(), pid
        while current > 1 and current not in seen:
            seen.add(current)
            current = parents.get(current, 0)
            if current == root:
                found.add(pid)
                break
    return found


def temp_entries() -> set[str]:
    """Names in the system temporary directory."""
    return set(os.listdir(tempfile.gettempdir()))


@dataclass(frozen=True)
class Snapshot:
    mounts: frozenset[str]
    temp: frozenset[str]

    @classmethod
    def take(cls) -> Snapshot:
        return cls(frozenset(mount_points()), frozenset(temp_entries()))

    def leftovers(
        self, allowed_temp: set[str], foreign: Callable[[str], bool] = lambda _: False
    ) -> list[str]:
        """A line per mount, process and temporary entry that was not there at the snapshot; mounts for
        which `foreign` is true (another pytest-xdist worker's) are not counted."""
        new_mounts = sorted(m for m in mount_points() - self.mounts if not foreign(m))
        problems = [f"mount left behind: {m}" for m in new_mounts]
        problems += [
            f"process left behind: {pid} {_cmdline(pid)}" for pid in sorted(descendants(os.getpid()))
        ]
        problems += [
            f"temporary entry left behind: {tempfile.gettempdir()}/{name}"
            for name in sorted(temp_entries() - self.temp - allowed_temp)
        ]
        return problems


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"
