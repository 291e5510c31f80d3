"""Atomic writes: readers never see a partial or empty file; modes exact; volumes not escaped."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from vaultinject.agent import sink


def test_writes_with_the_requested_mode_and_creates_directories(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "dir" / "db.env"
    assert sink.write_atomic(str(target), b"user=alice\n", 0o400) is True
    assert target.read_bytes() == b"user=alice\n"
    assert target.stat().st_mode & 0o7777 == 0o400


def test_default_mode_is_0644_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        sink.write_atomic(str(tmp_path / "f"), b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o7777 == 0o644


def test_unchanged_content_is_not_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "f"
    assert sink.write_atomic(str(target), b"same", 0o644)
    inode = target.stat().st_ino
    assert sink.write_atomic(str(target), b"same", 0o644) is False
    assert target.stat().st_ino == inode
    assert sink.write_atomic(str(target), b"same", 0o600) is True  # a mode change is a change


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    for index in range(20):
        sink.write_atomic(str(tmp_path / "f"), str(index).encode())
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_a_reader_polling_during_1000_rotations_never_sees_a_partial_or_empty_file(tmp_path: Path) -> None:
    target = tmp_path / "config"
    versions = [(f"version={i};" + "x" * 8000 + "\n").encode() for i in range(1000)]
    sink.write_atomic(str(target), versions[0])
    seen: set[bytes] = set()
    bad: list[bytes] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            content = target.read_bytes()
            if content not in versions_set:
                bad.append(content[:40])
            seen.add(content[:16])

    versions_set = set(versions)
    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in versions[1:]:
            sink.write_atomic(str(target), version)
    finally:
        done.set()
        reader.join()
    assert bad == []
    assert len(seen) > 1, "the reader should have observed several versions"


def test_a_symlinked_directory_out_of_the_volume_is_refused(tmp_path: Path) -> None:
    volume, outside = tmp_path / "secrets", tmp_path / "agent-state"
    volume.mkdir()
    outside.mkdir()
    (volume / "config").symlink_to(outside)
    with pytest.raises(sink.SinkError, match="leads outside"):
        sink.write_atomic(str(volume / "config" / "app.env"), b"x", inside=str(volume))
    assert list(outside.iterdir()) == []


def test_a_symlink_at_the_destination_is_replaced_not_followed(tmp_path: Path) -> None:
    volume, victim = tmp_path / "secrets", tmp_path / "victim"
    volume.mkdir()
    victim.write_bytes(b"untouched")
    (volume / "db").symlink_to(victim)
    sink.write_atomic(str(volume / "db"), b"secret", inside=str(volume))
    assert victim.read_bytes() == b"untouched"
    assert not (volume / "db").is_symlink()


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".db.123.0.tmp").write_bytes(b"partial")
    (tmp_path / "db").write_bytes(b"keep")
    sink.remove_stale_temporaries(str(tmp_path))
    assert os.listdir(tmp_path) == ["db"]


def test_markers_come_and_go(tmp_path: Path) -> None:
    marker = tmp_path / ".ready"
    sink.set_marker(str(marker), True)
    assert marker.exists()
    sink.set_marker(str(marker), False)
    sink.set_marker(str(marker), False)
    assert not marker.exists()
