"""Kubernetes' AtomicWriter (`pkg/volume/util/atomic_writer.go`): a volume's files switched in one rename.

Files live in `..YYYY_MM_DD_HH_MM_SS.<random>/`; `..data` points at the current one; each visible name is a
symlink through `..data`. An unchanged payload writes nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

DATA = "..data"
DATA_TMP = "..data_tmp"


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = 0o644
    fs_user: int | None = None
    fs_group: int | None = None


def _current(target: Path) -> dict[str, bytes] | None:
    data = target / DATA
    if not data.is_symlink():
        return None
    found: dict[str, bytes] = {}
    base = target / os.readlink(data)
    for path in base.rglob("*"):
        if path.is_file():
            found[str(path.relative_to(base))] = path.read_bytes()
    return found


def _modes_of(target: Path) -> dict[str, int]:
    if not (target / DATA).exists():
        return {}
    base = Path(os.path.realpath(target / DATA))
    return {str(p.relative_to(base)): p.stat().st_mode & 0o7777 for p in base.rglob("*") if p.is_file()}


def _validate(name: str) -> None:
    parts = name.split("/")
    if name.startswith("/") or ".." in parts or not name or parts[0].startswith(".."):
        raise ValueError(f"invalid path {name!r}")


def write(target: Path, payload: dict[str, FileProjection], now: dt.datetime | None = None) -> bool:
    """Make `target` hold exactly `payload` (relative path -> file). Returns False when nothing changed."""
    for name in payload:
        _validate(name)
    target.mkdir(parents=True, exist_ok=True)
    current = _current(target)
    if current is not None and current == {k: v.data for k, v in payload.items()}:
        modes = _modes_of(target)
        if all(modes.get(k) == v.mode for k, v in payload.items()):
            return False
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y_%m_%d_%H_%M_%S")
    new_dir = target / f"..{stamp}.{secrets.token_hex(5)}"
    new_dir.mkdir(mode=0o755)
    os.chmod(new_dir, 0o755)  # noqa: S103 - the kubelet's mode for the data directory
    for name, item in payload.items():
        path = new_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(item.data)
        os.chmod(path, item.mode)
        if item.fs_user is not None or item.fs_group is not None:
            os.chown(
                path,
                -1 if item.fs_user is None else item.fs_user,
                -1 if item.fs_group is None else item.fs_group,
            )
    old_dir = os.readlink(target / DATA) if (target / DATA).is_symlink() else None
    # Visible links first (they dangle harmlessly until ..data exists), then the atomic switch.
    tops = {name.split("/", 1)[0] for name in payload}
    for top in tops:
        link = target / top
        if not link.is_symlink():
            link.symlink_to(f"{DATA}/{top}")
    tmp = target / DATA_TMP
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(new_dir.name)
    os.rename(tmp, target / DATA)
    for entry in target.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.is_symlink() and entry.name not in tops:
            entry.unlink()
    if old_dir is not None and old_dir != new_dir.name:
        shutil.rmtree(target / old_dir, ignore_errors=True)
    return True
