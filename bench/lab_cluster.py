"""The lab cluster's control plane under workload: create-to-Ready and idle cost.

Run: .venv/bin/python bench/lab_cluster.py [--pods 50] [--nodes 3]
Starts `vaultinject lab kube` as a process with every controller and simulated nodes, then measures:
- one pod, created directly: from the create call until its Ready condition is True;
- a Deployment of --pods replicas: from the create call until every pod is Ready (rollout complete);
- the server process's CPU (share of one core) and RSS while those pods sit idle for 10 s.
The floor is one API round trip (a GET) in the same run, so figures can be read as ratios on a noisy
machine. Pods run on simulated nodes (no process behind them): this measures the API server, the
controllers and the scheduler, not a kubelet starting containers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vaultinject.lab.kube.harness import LabKube, running_kube, wait_for

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


def one_pod(kube: LabKube) -> float:
    body = {"metadata": {"name": "single"}, "spec": {"containers": [{"name": "app", "image": "busybox"}]}}
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
                "spec": {"containers": [{"name": "app", "image": "x"}]},
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


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        extra = ("--controllers", "*", "--simulated-nodes", str(args.nodes))
        with running_kube(Path(directory) / "kube", extra_args=extra) as kube:
            assert kube.process is not None
            pid = kube.process.pid
            wait_for(lambda: len(kube.call("GET", "/api/v1/nodes")["items"]) == args.nodes, 30)
            kube.ensure_namespace(NAMESPACE)
            floor = round_trip_floor(kube)
            single = one_pod(kube)
            many = deployment(kube, args.pods)
            before, started = cpu_seconds(pid), time.monotonic()
            time.sleep(10)
            idle_cpu = (cpu_seconds(pid) - before) / (time.monotonic() - started)
            rss = rss_mib(pid)
    print(f"API round trip (floor): {floor * 1e3:.1f} ms")
    print(f"one pod, create to Ready: {single * 1e3:.0f} ms ({single / floor:.0f}x the floor; target < 1 s)")
    print(f"{args.pods}-pod Deployment, create to all Ready: {many:.2f} s (target < 15 s)")
    idle = f"idle with {args.pods + 1} pods on {args.nodes} simulated nodes"
    print(f"{idle}: CPU {idle_cpu * 100:.1f}% of a core, RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
