"""The atomic writer: timestamped directory, ..data switch, visible links, no write when unchanged, modes."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from vaultinject.lab.kubelet import atomic
from vaultinject.lab.kubelet.atomic import FileProjection


def test_layout_and_switch(tmp_path: Path) -> None:
    now = dt.datetime(2024, 5, 1, 10, 0, 0, tzinfo=dt.UTC)
    assert atomic.write(tmp_path, {"token": FileProjection(b"t1", 0o600), "a/b": FileProjection(b"x")}, now)
    first = os.readlink(tmp_path / "..data")
    assert re.fullmatch(r"\.\.2024_05_01_10_00_00\.[0-9a-f]+", first)
    assert os.readlink(tmp_path / "token") == "..data/token"
    assert os.readlink(tmp_path / "a") == "..data/a"
    assert (tmp_path / "token").read_bytes() == b"t1"
    assert (tmp_path / "a" / "b").read_bytes() == b"x"
    assert (tmp_path / "token").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / first).stat().st_mode & 0o777 == 0o755

    mtime = (tmp_path / "token").stat().st_mtime_ns
    assert not atomic.write(tmp_path, {"token": FileProjection(b"t1", 0o600), "a/b": FileProjection(b"x")})
    assert os.readlink(tmp_path / "..data") == first
    assert (tmp_path / "token").stat().st_mtime_ns == mtime

    assert atomic.write(tmp_path, {"token": FileProjection(b"t2", 0o600)})
    second = os.readlink(tmp_path / "..data")
    assert second != first
    assert not (tmp_path / first).exists()
    assert not (tmp_path / "a").is_symlink()  # stale visible link removed
    assert (tmp_path / "token").read_bytes() == b"t2"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["..data", second, "token"])


def test_mode_change_rewrites(tmp_path: Path) -> None:
    atomic.write(tmp_path, {"k": FileProjection(b"v", 0o644)})
    assert atomic.write(tmp_path, {"k": FileProjection(b"v", 0o400)})
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o400


def test_ownership(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    atomic.write(tmp_path, {"k": FileProjection(b"v", 0o440, fs_group=2000)})
    assert (tmp_path / "k").stat().st_gid == 2000


@pytest.mark.parametrize("name", ["../x", "/abs", "..data/x", "a/../../b", ""])
def test_rejects_bad_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="invalid path"):
        atomic.write(tmp_path, {name: FileProjection(b"")})
