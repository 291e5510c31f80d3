"""Memory cgroups: a restarted node removes what its killed predecessor left, and nothing else."""

from __future__ import annotations

import os
import subprocess

import pytest

from vaultinject.lab.kubelet import cgroups

pytestmark = pytest.mark.skipif(cgroups.parent() is None, reason="no writable memory cgroup on this machine")
LIMIT = 64 * 1024 * 1024


def _create(name: str) -> cgroups.MemoryCgroup:
    made = cgroups.create(name, LIMIT)
    assert made is not None
    return made


def test_a_nodes_stale_cgroups_are_removed_but_busy_and_other_nodes_ones_kept() -> None:
    prefix = f"vaultinject-test{os.getpid()}-"
    stale, busy = _create(f"{prefix}stale"), _create(f"{prefix}busy")
    other = _create(f"vaultinject-other{os.getpid()}-kept")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        busy.procs.write_text(str(sleeper.pid))
        assert cgroups.remove_stale(prefix) == 1
        assert not stale.path.exists()
        assert busy.path.exists()
        assert other.path.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
        for group in (stale, busy, other):
            group.remove()
    assert not busy.path.exists()
    assert not other.path.exists()


def test_an_oom_kill_is_not_reported_for_a_cgroup_whose_process_ended_normally() -> None:
    group = _create(f"vaultinject-test{os.getpid()}-calm")
    try:
        process = subprocess.Popen(["sh", "-c", f"echo $$ > {group.procs}; exit 3"])
        assert process.wait() == 3
        assert not group.oom_killed(settle=0.05)
    finally:
        group.remove()
