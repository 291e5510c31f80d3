"""The container launcher: new mount namespace, overlay root, mounts, chroot, uid/gid, execve.

Run as `python -I -S enter.py <status-fd> <spec-json>` by `runtime.Runtime.start`. It imports only the
standard library (so `-S` start-up stays fast). On success the final `execve` closes the close-on-exec
status pipe with nothing written; on failure it writes one JSON line `{"error": "..."}` and exits 127.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import stat
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]


class LaunchError(Exception):
    """A failure to report to the runtime as the container's StartError message."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise LaunchError(f"{what}: {os.strerror(err)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode() if source is not None else None,
            target.encode(),
            fstype.encode() if fstype is not None else None,
            flags,
            data.encode() if data is not None else None,
        ),
        f"mount {source or fstype} on {target}",
    )


def in_root(root: str, path: str) -> str:
    """`path` inside `root`, resolving symlinks as the container would see them (never escaping `root`)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > 40:
                raise LaunchError(f"too many levels of symbolic links in {path}")
            link = os.readlink(candidate)
            if link.startswith("/"):
                resolved = []
            parts = [p for p in link.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _mountpoint(source: str, target: str) -> None:
    """Create the bind target inside the (overlay) root: a directory for a directory, else a file."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not os.path.exists(target):
        with open(target, "a"):
            pass


def _bind(source: str, target: str, read_only: bool) -> None:
    mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def _make_traversable(root: str, path: str) -> None:
    """Let every user pass through each directory down to `path` in the overlay, as in an image whose
    software any user may run. Only those directories' metadata is copied up; the host keeps its modes."""
    current = root
    for part in [p for p in path.split("/") if p]:
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode) and not st.st_mode & 0o001:
            os.chmod(current, stat.S_IMODE(st.st_mode) | 0o001)


def build_root(spec: dict[str, Any]) -> str:
    """Mount the container's root filesystem inside this (new) mount namespace and return its path."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    base: str = spec["dir"]
    mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700")
    for sub in ("upper", "work", "root"):
        os.mkdir(os.path.join(base, sub))
    root = os.path.join(base, "root")
    mount("overlay", root, "overlay", 0, f"lowerdir=/,upperdir={base}/upper,workdir={base}/work")
    for path in spec.get("software") or []:
        _make_traversable(root, path)
    mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("/dev", os.path.join(root, "dev"), None, MS_BIND | MS_REC)
    mount("shm", os.path.join(root, "dev/shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k")
    tmp = in_root(root, "/tmp")  # noqa: S108 - the container's own /tmp, a fresh tmpfs
    os.makedirs(tmp, exist_ok=True)
    mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    # sysfs is a convenience; some hosts refuse it outside a network namespace
    with contextlib.suppress(LaunchError):
        mount("sysfs", os.path.join(root, "sys"), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # Parents before children, as containerd sorts mounts by path depth.
    mounts = sorted(spec["mounts"], key=lambda m: len([p for p in m["target"].split("/") if p]))
    read_only: list[str] = []
    for m in mounts:
        target = in_root(root, m["target"])
        _mountpoint(m["source"], target)  # under a parent volume this lands in its source, as with runc
        _bind(m["source"], target, False)
        if m["read_only"]:
            read_only.append(target)
    # Read-only last, so a nested mount point can still be made inside a read-only parent.
    for target in read_only:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    if spec.get("hosts_file"):
        target = in_root(root, "/etc/hosts")
        _mountpoint(spec["hosts_file"], target)
        _bind(spec["hosts_file"], target, False)
    return root


def find_executable(name: str, path: str) -> str | None:
    """Go's exec.LookPath inside the current root: a name with a slash is taken as is."""
    if "/" in name:
        return name if _is_executable(name) else None
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if _is_executable(candidate):
            return candidate
    return None


def _is_executable(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return not stat.S_ISDIR(st.st_mode) and st.st_mode & 0o111 != 0


def become(spec: dict[str, Any]) -> None:
    """Drop to the configured user: supplementary groups, then gid, then uid (the order the kernel needs)."""
    uid = spec.get("run_as_user")
    gid = spec.get("run_as_group")
    groups = [int(g) for g in spec.get("supplemental_groups") or []]
    if gid is None and uid is not None:
        gid = 0
    if gid is not None:
        os.setgroups(sorted({int(gid), *groups}))
        os.setgid(int(gid))
    elif groups:
        os.setgroups(sorted({0, *groups}))
    if uid is not None:
        os.setuid(int(uid))


def launch(spec: dict[str, Any]) -> None:
    if spec.get("cgroup_procs"):  # join the memory cgroup before anything of the command runs
        with open(spec["cgroup_procs"], "w") as procs:
            procs.write(str(os.getpid()))
    root = build_root(spec)
    os.chroot(root)
    workdir = spec.get("working_dir") or "/"
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    become(spec)
    env: dict[str, str] = dict(spec["env"])
    env.setdefault("PATH", DEFAULT_PATH)
    argv: list[str] = spec["argv"]
    if not argv:
        raise LaunchError("no command specified")
    binary = find_executable(argv[0], env["PATH"])
    if binary is None:
        if "/" in argv[0]:
            raise LaunchError(f'exec: "{argv[0]}": stat {argv[0]}: no such file or directory')
        raise LaunchError(f'exec: "{argv[0]}": executable file not found in $PATH')
    try:
        os.execve(binary, argv, env)  # noqa: S606
    except OSError as exc:
        if exc.errno == errno.EACCES:
            raise LaunchError(f'exec: "{argv[0]}": permission denied') from exc
        raise LaunchError(f"exec {argv[0]}: {exc.strerror}") from exc


def main() -> None:
    status_fd = int(sys.argv[1])
    os.set_inheritable(status_fd, False)  # closed by a successful execve: the runtime reads EOF
    spec = json.loads(sys.argv[2])
    try:
        launch(spec)
    except (LaunchError, OSError) as exc:
        os.write(status_fd, json.dumps({"error": str(exc)}).encode() + b"\n")
        os._exit(127)


if __name__ == "__main__":
    main()
