"""A lab cluster for tests: the API server with every controller on a thread, and real kubelet processes,
each PID 1 of its own PID and mount namespace, as `vaultinject lab up` runs them."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultinject.lab import up
from vaultinject.lab.controllers.settings import ControllerSettings
from vaultinject.lab.kube.harness import LabKube, in_process_kube, wait_for
from vaultinject.lab.kubelet import main as kubelet

# Short node timers and CrashLoopBackOff (Kubernetes: 10s heartbeats, 40s Leases, 10s first back-off).
EXTRA_FLAGS = (
    "--heartbeat-interval", "1", "--lease-duration", "4", "--crash-loop-backoff", "1", "--max-crash-loop-backoff", "8",
)  # fmt: skip
SETTINGS = ControllerSettings(
    node_monitor_grace_period=3.0, node_monitor_period=0.5, node_startup_grace_period=5.0
)


@dataclass
class Cluster:
    kube: LabKube
    root: Path
    kubelets: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def kubelet_command(self, name: str, index: int) -> list[str]:
        assert self.kube.server is not None
        return kubelet.command(
            node=name,
            index=index,
            server=self.kube.url,
            ca_file=self.kube.ca_file,
            token_file=self.kube.server.node_token(name),
            data_dir=self.root / "nodes" / name,
            log_dir=self.kube.data_dir / "pod-logs",
            extra=(*EXTRA_FLAGS, "--claims-dir", str(self.root / "claims")),
        )

    def start_node(self, name: str, index: int) -> None:
        log = (self.root / f"{name}.log").open("ab")
        self.kubelets[name] = subprocess.Popen(
            self.kubelet_command(name, index), stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        wait_for(lambda: self.node_ready(name), timeout=20, interval=0.1)

    def stop_node(self, name: str) -> None:
        """SIGKILL the node's namespace: the kubelet and every container die together."""
        process = self.kubelets.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def node_ready(self, name: str) -> bool:
        status, node = self.kube.request("GET", f"/api/v1/nodes/{name}")
        return status == 200 and up.node_ready(node)

    def pod(self, namespace: str, name: str) -> dict[str, Any]:
        pod: dict[str, Any] = self.kube.call("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
        return pod

    def kubectl(self, *args: str, stdin: str = "", timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", *args],
            env=self.kube.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def apply(self, manifest: str) -> None:
        result = self.kubectl("apply", "-f", "-", stdin=manifest)
        assert result.returncode == 0, result.stderr

    def ok(self, *args: str, timeout: float = 90) -> str:
        """kubectl's stdout; fails the test (with its stderr and the node logs) when it exits non-zero."""
        result = self.kubectl(*args, timeout=timeout)
        assert result.returncode == 0, (args, result.stdout, result.stderr, self.node_logs())
        return result.stdout

    def node_logs(self) -> str:
        logs = sorted(self.root.glob("*.log"))
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in logs)

    def pods(self, selector: str, namespace: str = "default") -> list[dict[str, Any]]:
        listing = self.kube.call("GET", f"/api/v1/namespaces/{namespace}/pods?labelSelector={selector}")
        return list(listing["items"])

    def status_column(self, name: str, namespace: str = "default") -> str:
        """The STATUS kubectl shows for one pod ("" when it does not exist)."""
        result = self.kubectl("get", "pod", name, "-n", namespace, "--no-headers")
        fields = result.stdout.split()
        return fields[2] if result.returncode == 0 and len(fields) > 2 else ""


@contextmanager
def lab_cluster(root: Path, nodes: int = 1, **config: Any) -> Iterator[Cluster]:
    config.setdefault("controller_settings", SETTINGS)
    with in_process_kube(
        root / "kube", controllers=None, service_proxy=True, reap_pods=False, **config
    ) as kube:
        cluster = Cluster(kube, root)
        try:
            for index in range(1, nodes + 1):
                cluster.start_node(f"node-{index}", index)
            yield cluster
        finally:
            for name in list(cluster.kubelets):
                cluster.stop_node(name)
