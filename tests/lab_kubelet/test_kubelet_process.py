"""`vaultinject lab kubelet` as a real process (in its own PID namespace): Ready, NotReady when killed, Ready
again when restarted, as kubectl shows it; SIGTERM and a refused token."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vaultinject.lab.controllers.settings import ControllerSettings
from vaultinject.lab.kube.harness import LabKube, in_process_kube, wait_for
from vaultinject.lab.kubelet import main as kubelet

SETTINGS = ControllerSettings(
    node_monitor_grace_period=2.0, node_monitor_period=0.2, node_startup_grace_period=2.0
)


def _command(kube: LabKube, token_file: Path, name: str = "n1") -> list[str]:
    return kubelet.command(
        node=name,
        index=1,
        server=kube.url,
        ca_file=kube.ca_file,
        token_file=token_file,
        data_dir=kube.data_dir.parent / "nodes" / name,
        log_dir=kube.data_dir / "pod-logs",
        extra=("--heartbeat-interval", "0.5", "--lease-duration", "2"),
    )


@contextmanager
def _kubelet(kube: LabKube, token_file: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        _command(kube, token_file), stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ""}
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def _child(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _kubectl_status(kube: LabKube, name: str) -> str:
    result = subprocess.run(
        ["kubectl", "get", "nodes", name, "--no-headers"],
        check=False,
        env=kube.env(),
        capture_output=True,
        text=True,
        timeout=15,
    )
    fields = result.stdout.split()
    return fields[1] if result.returncode == 0 and len(fields) > 1 else ""


def _ready_condition(kube: LabKube, name: str) -> dict[str, str]:
    node = kube.call("GET", f"/api/v1/nodes/{name}")
    ready: dict[str, str] = {c["type"]: c for c in node["status"]["conditions"]}["Ready"]
    return ready


def test_killed_kubelet_turns_node_not_ready_and_restart_brings_it_back(tmp_path: Path) -> None:
    with in_process_kube(
        tmp_path / "kube", controllers=("node-controller",), controller_settings=SETTINGS
    ) as kube:
        assert kube.server is not None
        token = kube.server.node_token("n1")
        with _kubelet(kube, token) as first:
            wait_for(lambda: _kubectl_status(kube, "n1") == "Ready", timeout=10, interval=0.2)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=5)
            wait_for(lambda: _kubectl_status(kube, "n1") == "NotReady", timeout=8, interval=0.2)
            ready = _ready_condition(kube, "n1")
            assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
        with _kubelet(kube, token) as second:
            wait_for(lambda: _kubectl_status(kube, "n1") == "Ready", timeout=8, interval=0.2)
            # unshare does not forward signals: SIGTERM the kubelet (PID 1 of the namespace) itself.
            os.kill(_child(second.pid), signal.SIGTERM)
            assert second.wait(timeout=5) == 0
            assert second.stderr is not None
            assert "stopping on signal" in second.stderr.read()


def test_refused_token_exits_1_naming_the_401(tmp_path: Path) -> None:
    with in_process_kube(tmp_path / "kube") as kube:
        bad = tmp_path / "bad.token"
        bad.write_text("not-a-node-token\n")
        result = subprocess.run(_command(kube, bad), check=False, capture_output=True, text=True, timeout=20)
        assert result.returncode == 1
        assert "401 Unauthorized" in result.stderr
        assert "Traceback" not in result.stderr
