"""The lab's container runtime: each container a real process in its own mount namespace and overlay root.

`Runtime.start` runs `enter.py` (stdlib only, `python -I -S`), which unshares a mount namespace, mounts an
overlay of the host's `/` (upper layer on a tmpfs), `/proc`, `/dev`, `/dev/shm`, `/tmp`, the volumes and the
hosts file, then chroots, drops to the configured user and execs the container's command. Nothing it mounts
is visible outside that namespace, and the namespace dies with the container's process.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vaultinject.lab.kubelet import cgroups

ENTER = Path(__file__).with_name("enter.py")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What containerd/runc put before a failed process start (the kubelet shows it as the StartError message).
START_PREFIX = (
    "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
    "runc create failed: unable to start container process: "
)


class StartError(Exception):
    """The container could not be started; `message` is what the kubelet reports in its status."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ExecTimeout(TimeoutError):
    """An exec did not finish within its timeout (its process group was killed); `output` so far."""

    def __init__(self, argv: list[str], timeout: float, output: bytes) -> None:
        super().__init__(f"command {argv!r} timed out after {timeout}s")
        self.output = output


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool = False


@dataclass
class ContainerConfig:
    pod_uid: str
    name: str
    argv: list[str]
    env: dict[str, str]
    working_dir: str | None
    mounts: list[Mount]
    hosts_file: Path | None
    run_as_user: int | None
    run_as_group: int | None
    supplemental_groups: list[int]
    stdout_path: Path | None = None  # raw stdout+stderr bytes appended here, unless `output_fds` is set
    output_fds: tuple[int, int] | None = None  # (stdout, stderr) write ends, e.g. of a ContainerLog
    memory_limit: int | None = None  # bytes (resources.limits.memory), enforced by a memory cgroup


def exit_code(returncode: int) -> int:
    """Popen's code as containerd reports it: 128+signal for a signalled process (SIGKILL -> 137)."""
    return 128 - returncode if returncode < 0 else returncode


@dataclass
class Container:
    """A started container process."""

    pid: int
    id: str  # 64 hex
    config: ContainerConfig
    process: subprocess.Popen[bytes]
    state_dir: Path
    started_at: float = field(default_factory=time.time)
    memory: cgroups.MemoryCgroup | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def poll(self) -> int | None:
        """The exit code once the process ended (128+signal when killed), None while it runs."""
        with self._lock:
            code = self.process.poll()
        return None if code is None else exit_code(code)

    def wait(self, timeout: float | None) -> int | None:
        """Wait up to `timeout` seconds (None: forever) for the exit code; None if still running."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return exit_code(code)

    def signal(self, signum: int) -> None:
        """Send `signum` to the container's main process (nothing if it already ended)."""
        with self._lock:
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signum)

    def kill_leftovers(self) -> None:
        """SIGKILL what the main process left running: a container ends with its init process, as in a
        PID namespace (the container leads its own process group here)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def oom_killed(self) -> bool:
        """True when the kernel's OOM killer killed a process of the container (over its memory limit)."""
        if self.memory is None:
            return False
        # The kernel counts an OOM kill just after it sends the SIGKILL, so the exit can be seen first.
        settle = 0.5 if self.process.returncode == -signal.SIGKILL else 0.0
        return self.memory.oom_killed(settle)

    def release(self) -> None:
        """Free what the ended container held outside its processes (its memory cgroup)."""
        if self.memory is not None:
            self.memory.remove()

    def exec(self, argv: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Run `argv` in the container's mount namespace, root and working directory, as its user.

        Returns (exit code, combined stdout+stderr). Raises ExecTimeout when it outlives `timeout`, and
        StartError when the container is no longer running.
        """
        if self.poll() is not None:
            raise StartError("container is not running")
        environment = dict(self.config.env if env is None else env)
        environment.setdefault("PATH", DEFAULT_PATH)
        command = ["nsenter", "-t", str(self.pid), "-m", "-r", "-w"]
        if self.config.run_as_group is not None or self.config.run_as_user is not None:
            command += ["-G", str(self.config.run_as_group or 0)]
        if self.config.run_as_user is not None:
            command += ["-S", str(self.config.run_as_user)]
        command += ["--", *argv]
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            raise ExecTimeout(argv, timeout, out or b"") from None
        return exit_code(proc.returncode), out


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` in this mount namespace, deepest first."""
    prefix = str(path)
    found: list[str] = []
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        for line in info:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def unmount_all(path: Path) -> None:
    """Unmount everything at or below `path` (lazily when busy)."""
    for point in _mounts_under(path):
        result = subprocess.run(["umount", point], capture_output=True, check=False)
        if result.returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)


@contextlib.contextmanager
def _output(config: ContainerConfig) -> Iterator[tuple[int, int]]:
    """The container's stdout and stderr descriptors: the given pipe ends, or the log file for both."""
    if config.output_fds is not None:
        yield config.output_fds
        return
    if config.stdout_path is None:
        raise ValueError("a container needs stdout_path or output_fds")
    config.stdout_path.parent.mkdir(parents=True, exist_ok=True)
    with open(config.stdout_path, "ab") as log:
        yield log.fileno(), log.fileno()


class Runtime:
    """Starts containers under `state_dir/<pod uid>/containers/` and removes a pod's state."""

    def __init__(
        self, state_dir: Path, cgroup_prefix: str = "vaultinject-", software: tuple[str, ...] | None = None
    ) -> None:
        self.state_dir = state_dir
        self.cgroup_prefix = cgroup_prefix  # container memory cgroups are `<prefix><id>`
        self.software = installed_software() if software is None else software
        self._containers: dict[str, list[Container]] = {}
        self._lock = threading.Lock()

    def pod_dir(self, pod_uid: str) -> Path:
        return self.state_dir / pod_uid

    def start(self, config: ContainerConfig) -> Container:
        """Start the container; returns once its command was exec'd. Raises StartError otherwise."""
        container_id = secrets.token_hex(32)
        cdir = self.pod_dir(config.pod_uid) / "containers" / f"{config.name}-{container_id[:12]}"
        cdir.mkdir(parents=True)
        spec = {
            "dir": str(cdir),
            "argv": config.argv,
            "env": config.env,
            "working_dir": config.working_dir,
            "mounts": [
                {"source": str(m.source), "target": m.target, "read_only": m.read_only} for m in config.mounts
            ],
            "hosts_file": str(config.hosts_file) if config.hosts_file else None,
            "software": list(self.software),
            "run_as_user": config.run_as_user,
            "run_as_group": config.run_as_group,
            "supplemental_groups": config.supplemental_groups,
        }
        for mount in config.mounts:
            if not mount.source.exists():
                raise StartError(
                    f"{START_PREFIX}error during container init: error mounting {str(mount.source)!r} "
                    f"to rootfs at {mount.target!r}: stat {mount.source}: no such file or directory: unknown"
                )
        memory = None
        if config.memory_limit:
            memory = cgroups.create(f"{self.cgroup_prefix}{container_id[:16]}", config.memory_limit)
        if memory is not None:
            spec["cgroup_procs"] = str(memory.procs)
        read_fd, write_fd = os.pipe()
        try:
            with _output(config) as (stdout, stderr):
                process = subprocess.Popen(
                    [sys.executable, "-I", "-S", str(ENTER), str(write_fd), json.dumps(spec)],
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    pass_fds=(write_fd,),
                    start_new_session=True,
                    env={},
                )
            os.close(write_fd)
            write_fd = -1
            report = b""
            while chunk := os.read(read_fd, 4096):
                report += chunk
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        if report:
            process.wait()
            if memory is not None:
                memory.remove()
            shutil.rmtree(cdir, ignore_errors=True)
            try:
                message = str(json.loads(report)["error"])
            except (ValueError, KeyError):
                message = report.decode(errors="replace").strip()
            raise StartError(f"{START_PREFIX}{message}: unknown")
        container = Container(
            pid=process.pid, id=container_id, config=config, process=process, state_dir=cdir, memory=memory
        )
        with self._lock:
            self._containers.setdefault(config.pod_uid, []).append(container)
        return container

    def containers(self, pod_uid: str) -> list[Container]:
        with self._lock:
            return list(self._containers.get(pod_uid, []))

    def remove_pod(self, pod_uid: str) -> None:
        """Kill what still runs of the pod, unmount everything under its directory and delete it."""
        with self._lock:
            containers = self._containers.pop(pod_uid, [])
        for container in containers:
            container.signal(signal.SIGKILL)
            container.kill_leftovers()
            container.wait(10)
            container.release()
        pod_dir = self.pod_dir(pod_uid)
        if not pod_dir.exists():
            return
        unmount_all(pod_dir)
        if _mounts_under(pod_dir):
            raise RuntimeError(f"mounts remain under {pod_dir}")  # never delete through a mount
        shutil.rmtree(pod_dir, ignore_errors=True)


def installed_software() -> tuple[str, ...]:
    """Where the images' software lives on the host: this interpreter, its venv and the package.

    An image's files are readable by every user; on the host they may lie under a private directory
    (`/root/.pyenv`), so the container's root makes the way to them traversable (see `enter.py`).
    """
    places = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    places.append(str(Path(__file__).resolve().parents[3]))  # the directory holding the package
    return tuple(sorted({os.path.realpath(place) for place in places}))


def image_repository(image: str) -> str:
    """An image reference without tag or digest (`host:5000/a/b:1@sha256:..` -> `host:5000/a/b`)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name = name[:colon]
    return name


def vaultinject_argv() -> list[str]:
    """How to run this interpreter's `vaultinject` command (the venv is on the root fs the overlay shows)."""
    script = Path(sys.executable).parent / "vaultinject"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "vaultinject"]


def image_env(image: str) -> dict[str, str]:
    """The environment an image sets (its `ENV`): the `vaultinject` image has the package's commands
    (`vaultinject`, `vaultinject-agent`) on its PATH, so commands, probes and hooks find them by name."""
    if not _is_vaultinject(image):
        return {}
    return {"PATH": f"{Path(sys.executable).parent}:{DEFAULT_PATH}"}


def _is_vaultinject(image: str) -> bool:
    repository = image_repository(image)
    return repository == "vaultinject" or repository.endswith("/vaultinject")


def image_command(image: str, command: list[str], args: list[str]) -> list[str]:
    """The argv a container runs: `vaultinject` images run the installed package, others command+args.

    As in Kubernetes, `command` replaces the image's entrypoint and `args` its cmd; the `vaultinject` image's
    entrypoint is `vaultinject`. Raises StartError when nothing is left to run.
    """
    if _is_vaultinject(image):
        entry = list(command) if command else ["vaultinject"]
        if entry and entry[0] in ("vaultinject", "/usr/local/bin/vaultinject", "/usr/bin/vaultinject"):
            entry = [*vaultinject_argv(), *entry[1:]]
        return [*entry, *args]
    argv = [*command, *args]
    if not argv:
        raise StartError(f"{START_PREFIX}no command specified in image {image}: unknown")
    return argv
