"""The lab runtime runs real containers: own mount namespace and root, read-only binds, users, signals, exec."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaultinject.lab.kubelet.runtime import (
    ContainerConfig,
    ExecTimeout,
    Mount,
    Runtime,
    StartError,
    image_command,
    image_env,
    image_repository,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root (mount namespaces)")


def mountinfo() -> set[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        return {" ".join(line.split()[3:5]) for line in info}


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    before = mountinfo()
    rt = Runtime(tmp_path / "state")
    yield rt
    rt.remove_pod("pod-1")
    assert not (tmp_path / "state" / "pod-1").exists()
    assert mountinfo() == before


def config(tmp_path: Path, argv: list[str], **kwargs: object) -> ContainerConfig:
    fields: dict[str, object] = {
        "pod_uid": "pod-1",
        "name": "app",
        "argv": argv,
        "env": {},
        "working_dir": None,
        "mounts": [],
        "hosts_file": None,
        "run_as_user": None,
        "run_as_group": None,
        "supplemental_groups": [],
        "stdout_path": tmp_path / "logs" / "app.log",
    }
    fields.update(kwargs)
    return ContainerConfig(**fields)  # type: ignore[arg-type]


def run(runtime: Runtime, cfg: ContainerConfig) -> tuple[int | None, str]:
    container = runtime.start(cfg)
    code = container.wait(10)
    assert cfg.stdout_path is not None
    return code, cfg.stdout_path.read_text()


def test_mounts_volumes_readonly_and_nothing_on_the_host(runtime: Runtime, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "token").write_text("s3cret")
    data = tmp_path / "data"
    data.mkdir()
    hosts = tmp_path / "hosts"
    hosts.write_text("127.96.0.10 vault.vault.svc\n")
    script = (
        "cat /vault/secrets/token; echo; "
        "touch /vault/secrets/new 2>/dev/null || echo ro-ok; "
        "echo written > /vault/secrets/data/out; "
        "echo overlay > /etc/lab-runtime-marker; "
        "echo tmp > /tmp/lab-runtime-marker; "
        "grep vault.vault.svc /etc/hosts; "
        "test -e /proc/self/mountinfo && echo proc-ok; "
        "test -c /dev/null && echo dev-ok; "
        "grep -q ' /dev/shm tmpfs ' /proc/self/mounts && echo shm-ok"
    )
    cfg = config(
        tmp_path,
        ["/bin/sh", "-c", script],
        # the deeper mount comes first in the list: the runtime mounts parents first, as containerd does
        mounts=[Mount(data, "/vault/secrets/data"), Mount(secrets, "/vault/secrets", read_only=True)],
        hosts_file=hosts,
    )
    code, out = run(runtime, cfg)
    assert code == 0, out
    assert out.splitlines() == [
        "s3cret",
        "ro-ok",
        "127.96.0.10 vault.vault.svc",
        "proc-ok",
        "dev-ok",
        "shm-ok",
    ]
    assert (data / "out").read_text() == "written\n"
    assert not Path("/vault").exists()
    assert not Path("/etc/lab-runtime-marker").exists()
    assert not Path("/tmp/lab-runtime-marker").exists()


def test_host_tmp_is_not_visible(runtime: Runtime, tmp_path: Path) -> None:
    code, out = run(runtime, config(tmp_path, ["/bin/sh", "-c", f"ls -d {tmp_path} 2>&1 || echo hidden"]))
    assert code == 0
    assert out.strip().endswith("hidden")


def test_user_group_workdir_env(runtime: Runtime, tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        ["/bin/sh", "-c", "id -u; id -g; id -G; pwd; echo $GREETING; echo $PATH"],
        env={"GREETING": "hello"},
        working_dir="/srv/app",
        run_as_user=1000,
        run_as_group=2000,
        supplemental_groups=[3000],
    )
    code, out = run(runtime, cfg)
    assert code == 0, out
    assert out.splitlines() == [
        "1000",
        "2000",
        "2000 3000",
        "/srv/app",
        "hello",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]
    assert not Path("/srv/app").exists()


def test_env_is_exactly_what_is_given(runtime: Runtime, tmp_path: Path) -> None:
    code, out = run(runtime, config(tmp_path, ["/usr/bin/env"], env={"A": "1", "PATH": "/bin"}))
    assert code == 0
    assert sorted(out.splitlines()) == ["A=1", "PATH=/bin"]


def test_exit_codes_and_signals(runtime: Runtime, tmp_path: Path) -> None:
    assert run(runtime, config(tmp_path, ["/bin/sh", "-c", "exit 3"]))[0] == 3
    container = runtime.start(config(tmp_path, ["sleep", "30"]))
    assert container.poll() is None
    assert container.wait(0.1) is None
    assert len(container.id) == 64
    container.signal(signal.SIGKILL)
    assert container.wait(5) == 137
    trap = runtime.start(config(tmp_path, ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 30 & wait"]))
    time.sleep(0.2)
    trap.signal(signal.SIGTERM)
    assert trap.wait(5) == 0
    plain = runtime.start(config(tmp_path, ["sleep", "30"]))
    plain.signal(signal.SIGTERM)
    assert plain.wait(5) == 143
    plain.signal(signal.SIGTERM)  # already gone: no error


def test_start_errors(runtime: Runtime, tmp_path: Path) -> None:
    with pytest.raises(StartError) as missing:
        runtime.start(config(tmp_path, ["nosuch"]))
    assert missing.value.message.endswith('exec: "nosuch": executable file not found in $PATH: unknown')
    assert missing.value.message.startswith("failed to create containerd task: ")
    with pytest.raises(StartError, match=r'exec: "/no/such": stat /no/such: no such file or directory'):
        runtime.start(config(tmp_path, ["/no/such"]))


def test_exec_inside_the_container(runtime: Runtime, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "ready").write_text("yes\n")
    cfg = config(
        tmp_path,
        ["/bin/sh", "-c", "echo inside > /tmp/state; exec sleep 30"],
        mounts=[Mount(vol, "/etc/app")],
        working_dir="/etc/app",
        run_as_user=1000,
        env={"X": "container"},
    )
    container = runtime.start(cfg)
    deadline = time.monotonic() + 5
    while container.exec(["test", "-e", "/tmp/state"], 5)[0] != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    code, out = container.exec(["/bin/sh", "-c", "cat ready; cat /tmp/state; id -u; pwd; echo $X; exit 4"], 5)
    assert (code, out.decode().splitlines()) == (4, ["yes", "inside", "1000", "/etc/app", "container"])
    code, out = container.exec(["/bin/sh", "-c", "echo $X >&2"], 5, env={"X": "given"})
    assert (code, out) == (0, b"given\n")
    with pytest.raises(ExecTimeout):
        container.exec(["sleep", "10"], 0.3)
    assert container.exec(["nosuch-binary"], 5)[0] != 0
    container.signal(signal.SIGKILL)
    container.wait(5)
    with pytest.raises(StartError):
        container.exec(["true"], 5)


def test_output_is_appended(runtime: Runtime, tmp_path: Path) -> None:
    cfg = config(tmp_path, ["/bin/sh", "-c", "echo out; echo err >&2"])
    run(runtime, cfg)
    _, out = run(runtime, cfg)
    assert out == "out\nerr\nout\nerr\n"


def test_start_latency(runtime: Runtime, tmp_path: Path) -> None:
    best = 10.0
    for _ in range(3):
        started = time.monotonic()
        container = runtime.start(config(tmp_path, ["true"]))
        best = min(best, time.monotonic() - started)
        container.wait(5)
    assert best < 0.1  # start() returns only once the command was exec'd


def test_vaultinject_image_runs_the_installed_package(runtime: Runtime, tmp_path: Path) -> None:
    argv = image_command("ghcr.io/acme/vaultinject:1.0", ["vaultinject"], ["--help"])
    assert argv[-1] == "--help"
    assert argv[0].startswith(sys.prefix) or argv[0] == sys.executable
    code, out = run(runtime, config(tmp_path, argv))
    assert code == 0, out
    assert "usage" in out.lower()


def test_software_under_a_private_host_directory_runs_as_any_user(tmp_path: Path) -> None:
    # Outside /tmp, which a container sees as a fresh tmpfs.
    private = Path(tempfile.mkdtemp(prefix="vaultinject-test-", dir="/var/tmp"))
    tool = private / "opt" / "tool"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho ran as $(id -u)\n")
    tool.chmod(0o755)
    private.chmod(0o700)  # as /root/.pyenv's /root is on some hosts
    before = mountinfo()
    runtime = Runtime(tmp_path / "state", software=(str(tool.parent),))
    try:
        code, out = run(runtime, config(tmp_path, [str(tool)], run_as_user=65532, run_as_group=65532))
        assert (code, out) == (0, "ran as 65532\n")
        assert private.stat().st_mode & 0o777 == 0o700  # the host keeps its mode
        closed = Runtime(tmp_path / "state", software=())
        with pytest.raises(StartError, match="opt/tool"):  # the host's 0700 directory stops the user
            closed.start(config(tmp_path, [str(tool)], name="closed", run_as_user=65532))
    finally:
        runtime.remove_pod("pod-1")
        shutil.rmtree(private)
    assert mountinfo() == before


def test_image_command() -> None:
    assert (
        image_repository("localhost:5000/team/vaultinject:v1@sha256:abc") == "localhost:5000/team/vaultinject"
    )
    assert image_repository("busybox") == "busybox"
    assert image_command("busybox:1.36", ["sh", "-c"], ["echo hi"]) == ["sh", "-c", "echo hi"]
    assert image_command("vaultinject", [], ["agent"])[-1] == "agent"
    assert image_command("example.com/notvaultinject", ["vaultinject"], []) == ["vaultinject"]
    with pytest.raises(StartError):
        image_command("busybox", [], [])


def test_remove_pod_kills_orphans(runtime: Runtime, tmp_path: Path) -> None:
    cfg = config(tmp_path, ["/bin/sh", "-c", "sleep 30 & echo $!; exit 0"])
    code, out = run(runtime, cfg)
    assert code == 0
    orphan = int(out.split()[0])
    assert Path(f"/proc/{orphan}").exists()
    runtime.remove_pod("pod-1")
    deadline = time.monotonic() + 5
    while (
        Path(f"/proc/{orphan}/stat").exists() and Path(f"/proc/{orphan}/stat").read_text().split()[2] != "Z"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_the_vaultinject_image_has_the_packages_commands_on_its_path() -> None:
    directories = image_env("ghcr.io/acme/vaultinject:1.0")["PATH"].split(":")
    assert (Path(directories[0]) / "vaultinject-agent").exists()
    assert "/usr/bin" in directories
    assert image_env("busybox:1.36") == {}
