"""The leftover detectors behind the session check see a new mount, a stray process and a temp dir."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.leftovers import Snapshot


def test_a_new_mount_is_reported_until_it_is_unmounted(tmp_path: Path) -> None:
    before = Snapshot.take()
    target = tmp_path / "mnt"
    target.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(target)], check=True)
    try:
        assert f"mount left behind: {target}" in before.leftovers(set())
    finally:
        subprocess.run(["umount", str(target)], check=True)
    assert f"mount left behind: {target}" not in before.leftovers(set())


def test_a_child_process_is_reported_until_it_ends() -> None:
    before = Snapshot.take()
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert any(
            p.startswith(f"process left behind: {child.pid} sleep 30") for p in before.leftovers(set())
        )
    finally:
        child.kill()
        child.wait()
    assert not any(p.startswith(f"process left behind: {child.pid} ") for p in before.leftovers(set()))


def test_a_new_temporary_directory_is_reported_until_it_is_removed() -> None:
    before = Snapshot.take()
    path = Path(tempfile.mkdtemp(prefix="leftover-check-"))
    try:
        assert f"temporary entry left behind: {path}" in before.leftovers(set())
    finally:
        shutil.rmtree(path)
    assert f"temporary entry left behind: {path}" not in before.leftovers(set())
