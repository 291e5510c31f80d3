"""`vaultinject lab up|down|node` as an operator runs them, judged by kubectl and by the processes and
mounts they leave (none)."""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vaultinject.lab.kube.harness import wait_for

TIMERS = (
    "--heartbeat-interval", "1", "--lease-duration", "4",
    "--node-monitor-grace-period", "3", "--node-monitor-period", "0.5", "--node-startup-grace-period", "5",
)  # fmt: skip


def lab(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaultinject.cli", "lab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kubectl(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(data_dir / "kubeconfig")}
    return subprocess.run(
        ["kubectl", *args], env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def recorded_pids(data_dir: Path) -> list[int]:
    state = json.loads((data_dir / "lab.json").read_text())
    return [state["api_server"]["pid"], *(p["pid"] for p in state["kubelets"].values())]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def node_status(data_dir: Path, name: str) -> str:
    result = kubectl(data_dir, "get", "node", name, "--no-headers")
    return result.stdout.split()[1] if result.returncode == 0 else ""


def pods_on(data_dir: Path, node: str) -> list[dict[str, Any]]:
    listing = kubectl(data_dir, "get", "pods", "-o", "json", "--field-selector", f"spec.nodeName={node}")
    return list(json.loads(listing.stdout)["items"]) if listing.returncode == 0 else []


def restarts_on(data_dir: Path, node: str) -> tuple[int, str]:
    """The restart count and state of the (only) pod's container on `node`, as the kubelet reports them."""
    found = pods_on(data_dir, node)
    statuses = (found[0].get("status") or {}).get("containerStatuses") or [] if found else []
    if not statuses:
        return (-1, "")
    return (statuses[0].get("restartCount", 0), next(iter(statuses[0].get("state") or {"": 0})).title())


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "lab"
    yield directory
    lab("down", "--data-dir", str(directory))


def assert_nothing_left(data_dir: Path, pids: list[int]) -> None:
    assert not (data_dir / "lab.json").exists()
    assert [pid for pid in pids if alive(pid)] == []
    assert str(data_dir) not in Path("/proc/self/mounts").read_text()


def test_detached_lab_serves_kubectl_survives_node_restarts_and_goes_down(data_dir: Path) -> None:
    started = lab("up", "--nodes", "2", "--data-dir", str(data_dir), "--detach", *TIMERS)
    assert started.returncode == 0, started.stderr
    assert "node node-1 Ready" in started.stdout
    assert "node node-2 Ready" in started.stdout
    assert f"export KUBECONFIG={data_dir / 'kubeconfig'}" in started.stdout
    nodes = kubectl(data_dir, "get", "nodes", "--no-headers").stdout.split("\n")
    assert [line.split()[:2] for line in nodes if line] == [["node-1", "Ready"], ["node-2", "Ready"]]

    again = lab("up", "--data-dir", str(data_dir), "--detach")
    assert again.returncode == 1
    assert "already running" in again.stderr
    assert "lab down" in again.stderr

    deploy = kubectl(
        data_dir, "create", "deployment", "web", "--image=busybox", "--replicas=2", "--", "sleep", "3600"
    )
    assert deploy.returncode == 0, deploy.stderr
    rollout = kubectl(data_dir, "rollout", "status", "deployment/web", "--timeout=60s")
    assert rollout.returncode == 0, rollout.stderr

    stopped = lab("node", "stop", "node-1", "--data-dir", str(data_dir))
    assert stopped.returncode == 0, stopped.stderr
    wait_for(lambda: node_status(data_dir, "node-1") == "NotReady", timeout=20, interval=0.2)
    assert lab("node", "stop", "node-1", "--data-dir", str(data_dir)).returncode == 1

    restarted = lab("node", "start", "node-1", "--data-dir", str(data_dir))
    assert restarted.returncode == 0, restarted.stderr
    assert "node node-1 Ready" in restarted.stdout
    assert node_status(data_dir, "node-1") == "Ready"
    wait_for(lambda: restarts_on(data_dir, "node-1") == (1, "Running"), timeout=30, interval=0.2)
    pod = pods_on(data_dir, "node-1")[0]["status"]["containerStatuses"][0]
    assert (pod["lastState"]["terminated"]["reason"], pod["lastState"]["terminated"]["exitCode"]) == (
        "Unknown",
        255,
    )
    unknown = lab("node", "start", "node-9", "--data-dir", str(data_dir))
    assert unknown.returncode == 1
    assert "node-1, node-2" in unknown.stderr

    pids = recorded_pids(data_dir)
    down = lab("down", "--data-dir", str(data_dir))
    assert down.returncode == 0, down.stderr
    assert_nothing_left(data_dir, pids)
    assert "no lab is running" in lab("down", "--data-dir", str(data_dir)).stdout


def test_foreground_lab_stops_everything_on_ctrl_c(data_dir: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "vaultinject.cli",
        "lab",
        "up",
        "--nodes",
        "1",
        "--data-dir",
        str(data_dir),
    ]
    process = subprocess.Popen([*command, *TIMERS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    started: list[str] = []
    try:
        for line in process.stdout:  # up says when it is serving; a Ctrl-C before that is an interrupt (130)
            started.append(line)
            if "press Ctrl-C" in line:
                break
        pids = recorded_pids(data_dir)
        assert node_status(data_dir, "node-1") == "Ready"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        out = "".join(started) + out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "press Ctrl-C to stop the lab" in out
    assert "lab up: stopped" in out
    assert_nothing_left(data_dir, pids)


def test_node_commands_need_a_running_lab(data_dir: Path) -> None:
    result = lab("node", "stop", "node-1", "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert "no lab is running" in result.stderr
    assert "lab up" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [("up", "--nodes", "0"), ("up", "--nodes", "three"), ("node", "reboot", "node-1"), ("sideways",)],
)
def test_usage_errors_exit_2_with_a_message(args: tuple[str, ...], data_dir: Path) -> None:
    result = lab(*args, "--data-dir", str(data_dir))
    assert result.returncode == 2
    assert "error" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (data_dir / "lab.json").exists()


def vault_health(addr: str, ca_file: Path) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(ca_file))
    url = f"{addr}/v1/sys/health?standbyok=true&sealedcode=200&uninitcode=200"
    with urllib.request.urlopen(url, context=context, timeout=5) as answer:  # noqa: S310 - https only
        return dict(json.load(answer))


def test_a_shamir_sealed_lab_vault_is_unsealed_by_up_and_comes_back_initialized(data_dir: Path) -> None:
    """Without auto-unseal `lab up --vault` unseals with the key it kept (0600); a later `up` on the same
    directory finds the same Vault initialized (its storage outlives the pods) and unseals it again."""
    started = lab(
        "up", "--nodes", "1", "--vault", "--no-vault-auto-unseal", "--data-dir", str(data_dir), "--detach"
    )
    assert started.returncode == 0, started.stderr
    vault_dir = data_dir / "vault"
    addr = re.search(r"export VAULT_ADDR=(\S+)", started.stdout)[1]  # type: ignore[index]
    assert f"VAULT_CACERT={vault_dir / 'ca.crt'}" in started.stdout
    assert "vault: initialized;" in started.stdout
    for secret in ("root-token", "unseal-keys.json", "ca.key"):
        assert (vault_dir / secret).stat().st_mode & 0o777 == 0o600, secret
    token = (vault_dir / "root-token").read_text().strip()
    key = json.loads((vault_dir / "unseal-keys.json").read_text())["keys"][0]
    assert token not in started.stdout + started.stderr
    assert key not in started.stdout + started.stderr
    health = vault_health(addr, vault_dir / "ca.crt")
    assert (health["initialized"], health["sealed"]) == (True, False)
    labels = kubectl(data_dir, "get", "pods", "-n", "vault", "-l", "vault-sealed=false", "-o", "name").stdout
    assert labels.split() == ["pod/vault-0", "pod/vault-1"]
    assert lab("down", "--data-dir", str(data_dir)).returncode == 0

    again = lab(
        "up", "--nodes", "1", "--vault", "--no-vault-auto-unseal", "--data-dir", str(data_dir), "--detach"
    )
    assert again.returncode == 0, again.stderr
    assert "vault: initialized;" not in again.stdout
    assert (vault_dir / "root-token").read_text().strip() == token
    assert vault_health(addr, vault_dir / "ca.crt")["sealed"] is False
