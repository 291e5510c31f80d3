"""The lab cluster's control plane under workload: create-to-Ready and idle cost.

Run: .venv/bin/python bench/lab_cluster.py [--pods 50] [--nodes 3]
Starts `vaultinject lab kube` as a process with every controller and simulated nodes, then measures:
- one pod, created directly: from the create call until its Ready condition is True;
- a Deployment of --pods replicas: from the create call until every pod is Ready (rollout complete);
- the server process's CPU (share of one core) and RSS while those pods sit idle for 10 s.
The floor is one API round trip (a GET) in the same run, so figures can be read as ratios on a noisy
machine. By default pods run on simulated nodes (no process behind them): that measures the API server,
the controllers and the scheduler. With --real-nodes N they run on N `vaultinject lab kubelet` processes
(each PID 1 of its own PID and mount namespace) as real containers (`sleep`), and CPU and RSS cover the
API server, the kubelets and every container.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vaultinject.lab.kube.harness import LabKube, running_kube, wait_for
from vaultinject.lab.kube.server import node_token_file
from vaultinject.lab.kubelet import main as kubelet

NAMESPACE = "bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def round_trip_floor(kube: LabKube, runs: int = 50) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        kube.call("GET", f"/api/v1/namespaces/{NAMESPACE}")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


APP = {"name": "app", "image": "busybox", "command": ["sleep", "100000"]}


def one_pod(kube: LabKube) -> float:
    body = {"metadata": {"name": "single"}, "spec": {"containers": [APP]}}
    started = time.perf_counter()
    kube.call("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", body)
    wait_for(lambda: _ready(kube.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/single")), 30, 0.005)
    return time.perf_counter() - started


def deployment(kube: LabKube, replicas: int) -> float:
    labels = {"app": "many"}
    body = {
        "metadata": {"name": "many"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [APP], "terminationGracePeriodSeconds": 1},
            },
        },
    }
    started = time.perf_counter()
    kube.call("POST", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", body)

    def all_ready() -> bool:
        pods = kube.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector=app%3Dmany")["items"]
        return len(pods) == replicas and all(_ready(p) for p in pods)

    wait_for(all_ready, 120, 0.02)
    return time.perf_counter() - started


def _family(roots: list[int]) -> list[int]:
    """`roots` and every process below them."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(
                    Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    family = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in family and pid not in family:
                family.add(pid)
                grew = True
    return sorted(family)


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in _family(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def rss_mib(pids: list[int]) -> float:
    total = 0.0
    for pid in _family(pids):
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("VmRSS:")) / 1024
    return total


def node_tokens(kube_dir: Path, count: int) -> dict[str, Path]:
    """Token files the API server loads at start, one per real node."""
    return {f"node-{i}": node_token_file(kube_dir, f"node-{i}") for i in range(1, count + 1)}


def start_kubelets(kube: LabKube, root: Path, tokens: dict[str, Path]) -> list[subprocess.Popen[bytes]]:
    processes = []
    for index, (name, token) in enumerate(tokens.items(), start=1):
        argv = kubelet.command(
            node=name,
            index=index,
            server=kube.url,
            ca_file=kube.ca_file,
            token_file=token,
            data_dir=root / "nodes" / name,
            log_dir=kube.data_dir / "pod-logs",
        )
        with (root / f"{name}.log").open("ab") as log:
            processes.append(subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True))
    return processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--real-nodes", type=int, default=0, help="run pods on N real kubelet processes")
    args = parser.parse_args()
    real = args.real_nodes > 0
    nodes = args.real_nodes if real else args.nodes
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        extra: tuple[str, ...] = ("--controllers", "*")
        tokens: dict[str, Path] = {}
        if real:
            tokens = node_tokens(root / "kube", nodes)
            extra += ("--no-grace-reaper",)
        else:
            extra += ("--simulated-nodes", str(nodes))
        kubelets: list[subprocess.Popen[bytes]] = []
        with running_kube(root / "kube", extra_args=extra) as kube:
            assert kube.process is not None
            try:
                kubelets = start_kubelets(kube, root, tokens)
                wait_for(lambda: len(kube.call("GET", "/api/v1/nodes")["items"]) == nodes, 30)
                kube.ensure_namespace(NAMESPACE)
                floor = round_trip_floor(kube)
                single = one_pod(kube)
                many = deployment(kube, args.pods)
                pids = [kube.process.pid, *(k.pid for k in kubelets)]
                before, started = cpu_seconds(pids), time.monotonic()
                time.sleep(10)
                idle_cpu = (cpu_seconds(pids) - before) / (time.monotonic() - started)
                rss = rss_mib(pids)
            finally:
                for kubelet in kubelets:
                    kubelet.send_signal(signal.SIGKILL)
                    kubelet.wait(10)
    kind = "real kubelet processes" if real else "simulated nodes"
    print(f"API round trip (floor): {floor * 1e3:.1f} ms")
    print(f"one pod, create to Ready: {single * 1e3:.0f} ms ({single / floor:.0f}x the floor; target < 1 s)")
    print(f"{args.pods}-pod Deployment, create to all Ready: {many:.2f} s (target < 15 s)")
    idle = f"idle with {args.pods + 1} pods on {nodes} {kind}"
    print(f"{idle}: CPU {idle_cpu * 100:.1f}% of a core, RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
