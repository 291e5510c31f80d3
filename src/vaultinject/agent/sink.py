"""Writing rendered files atomically: temp file in the same directory, fsync, rename.

A reader polling the file sees the old content or the new one, never a partial or empty file.
"""

from __future__ import annotations

import itertools
import os

DEFAULT_MODE = 0o644
_counter = itertools.count()


class SinkError(OSError):
    """A destination that cannot be written safely."""


def write_atomic(path: str, content: bytes, mode: int | None = None, *, inside: str | None = None) -> bool:
    """Write `content` to `path` with `mode`; return False when the file already held exactly that.

    `inside` is the volume the file must stay in: a directory on the way that is a symlink out of
    it (an app container could plant one) is refused.
    """
    mode = DEFAULT_MODE if mode is None else mode
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    if inside is not None:
        _check_inside(directory, inside, path)
    if _unchanged(path, content, mode):
        return False
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{next(_counter)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            os.fchmod(stream.fileno(), mode)
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise
    _sync_directory(directory)
    return True


def _check_inside(directory: str, volume: str, path: str) -> None:
    real_directory, real_volume = os.path.realpath(directory), os.path.realpath(volume)
    if real_directory != real_volume and not real_directory.startswith(real_volume.rstrip("/") + "/"):
        raise SinkError(f"refusing to write {path}: {directory} leads outside {volume}")


def _unchanged(path: str, content: bytes, mode: int) -> bool:
    try:
        with open(path, "rb") as stream:
            status = os.fstat(stream.fileno())
            return (status.st_mode & 0o7777) == mode and stream.read() == content
    except OSError:
        return False


def _sync_directory(directory: str) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_stale_temporaries(directory: str) -> None:
    """Temp files a killed agent left behind."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(".") and name.endswith(".tmp"):
            _remove(os.path.join(directory, name))


def set_marker(path: str, present: bool) -> None:
    """Create or remove a probe marker file."""
    if present:
        with open(path, "a"):
            pass
    else:
        _remove(path)


def _remove(path: str) -> None:
    try:  # noqa: SIM105 - contextlib.suppress would add an import to the agent's cold start
        os.unlink(path)
    except FileNotFoundError:
        pass
