"""Node registration, status heartbeats and the `kube-node-lease` Lease, as the kubelet writes them.

podCIDR: the kubelet registers with `spec.podCIDR` 127.244.<index>.0/24 from its `--node-index` (the brief's
address convention); InternalIP is 127.0.<index+1>.1.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from vaultinject.lab.kube.clock import micro_time, rfc3339
from vaultinject.lab.kubelet.api import ApiClient, ApiError

JSON = dict[str, Any]
LEASE_SECONDS = 40
KUBELET_VERSION = "v1.32.0"

CONDITIONS = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "KubeletReady", "kubelet is posting ready status"),
)


def pod_cidr(index: int) -> str:
    return f"127.244.{index}.0/24"


def internal_ip(index: int) -> str:
    return f"127.0.{index + 1}.1"


def capacity() -> JSON:
    memory_kib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024
    return {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{memory_kib}Ki",
        "pods": "110",
        "ephemeral-storage": "10Gi",
    }


def conditions(now: float, previous: list[JSON]) -> list[JSON]:
    """The four kubelet conditions; `lastTransitionTime` kept while the status is unchanged."""
    before = {c.get("type"): c for c in previous}
    result = []
    for kind, reason, message in CONDITIONS:
        status = "True" if kind == "Ready" else "False"
        old = before.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status else None
        result.append(
            {
                "type": kind,
                "status": status,
                "lastHeartbeatTime": rfc3339(now),
                "lastTransitionTime": since or rfc3339(now),
                "reason": reason,
                "message": message,
            }
        )
    return result


def node_status(name: str, index: int, now: float, previous: list[JSON]) -> JSON:
    cap = capacity()
    return {
        "capacity": cap,
        "allocatable": dict(cap),
        "conditions": conditions(now, previous),
        "addresses": [
            {"type": "InternalIP", "address": internal_ip(index)},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": platform.release(),
            "osImage": "vaultinject lab",
            "containerRuntimeVersion": "containerd://1.7.0",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(
                platform.machine(), platform.machine()
            ),
        },
    }


def node_body(name: str, index: int, now: float) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
            },
        },
        "spec": {"podCIDR": pod_cidr(index), "podCIDRs": [pod_cidr(index)]},
        "status": node_status(name, index, now, []),
    }


def register(api: ApiClient, name: str, index: int, now: float) -> JSON:
    """Create the Node, or keep the existing one (a restarted kubelet) and post fresh status."""
    try:
        api.post_json("/api/v1/nodes", node_body(name, index, now))
    except ApiError as error:
        if error.status != 409:
            raise
    return heartbeat(api, name, index, now)


def heartbeat(api: ApiClient, name: str, index: int, now: float) -> JSON:
    current = api.get_json(f"/api/v1/nodes/{name}") or {}
    previous = list((current.get("status") or {}).get("conditions") or [])
    body = {"status": node_status(name, index, now, previous)}
    return api.patch_json(f"/api/v1/nodes/{name}/status", body, "strategic")


def renew_lease(api: ApiClient, name: str, node_uid: str, now: float, duration: int = LEASE_SECONDS) -> JSON:
    """Create or renew `kube-node-lease/<name>` (holder the node, owned by the Node)."""
    path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"
    spec = {"holderIdentity": name, "leaseDurationSeconds": duration, "renewTime": micro_time(now)}
    current = api.get_json(path)
    if current is None:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": name,
                "namespace": "kube-node-lease",
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}],
            },
            "spec": spec,
        }
        return api.post_json("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", body)
    current["spec"] = {**(current.get("spec") or {}), **spec}
    return api.put_json(path, current)
