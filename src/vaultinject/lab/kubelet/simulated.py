"""Simulated nodes, as kwok does for Kubernetes: Nodes and their Leases kept alive, and the pods bound to
them reported Running and Ready with no process behind them, in the API server's process.

A pod may ask to be simulated otherwise with the annotation `lab.vaultinject.io/simulate`:
- `stuck-init`: the first init container runs forever (`Init:0/N`); with no init containers the pod
  stays `ContainerCreating`;
- `crashloop`: every container waits in CrashLoopBackOff after exiting 1 (`CrashLoopBackOff`);
- `not-ready`: containers run but never pass readiness (`0/N Running`);
- `succeed` / `fail`: containers exit 0 / 1 at once (`Completed` / `Error`), as a Job's pods do.
A graceful deletion is completed (delete with grace 0) when its grace period is over; `pause(node)` stops a
node's heartbeats and its pod handling, as a dead kubelet does, and `resume(node)` brings it back."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import threading
import uuid
from collections.abc import Iterable
from typing import Any, ClassVar

from vaultinject.lab.controllers.base import Context, Controller, Key, Manager, key_of
from vaultinject.lab.controllers.client import ApiError, Client
from vaultinject.lab.controllers.settings import ControllerSettings
from vaultinject.lab.kube.clock import Clock, micro_time, parse_time, rfc3339
from vaultinject.lab.kube.cluster import Cluster
from vaultinject.lab.kube.model import UserInfo
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
log = logging.getLogger(__name__)
ANNOTATION = "lab.vaultinject.io/simulate"
SIMULATED_LABEL = "lab.vaultinject.io/simulated"
MODES = ("stuck-init", "crashloop", "not-ready", "succeed", "fail")
KUBELET_VERSION = "v1.32.0"
_NODE_STATUS_PERIOD = 300.0  # nodeStatusReportFrequency: with a Lease, status is posted every 5 min


def node_user(name: str) -> UserInfo:
    return UserInfo(f"system:node:{name}", "", ("system:nodes", "system:authenticated"))


def _hex(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _image_id(image: str) -> str:
    repository = image.split("@", maxsplit=1)[0].rsplit(":", 1)[0] if "/" in image or ":" in image else image
    if "/" not in repository:
        repository = f"library/{repository}"
    if repository.count("/") == 1 and "." not in repository.split("/")[0]:
        repository = f"docker.io/{repository}"
    return f"{repository}@sha256:{_hex('image', image)}"


def _image(image: str) -> str:
    """The image as the runtime reports it (fully qualified, with a tag)."""
    name = image if ":" in image.rsplit("/", 1)[-1] or "@" in image else f"{image}:latest"
    repository = name.split("/")[0]
    if "/" not in name:
        return f"docker.io/library/{name}"
    if "." not in repository and ":" not in repository and repository != "localhost":
        return f"docker.io/{name}"
    return name


def _condition(kind: str, status: bool, now: str, reason: str = "", message: str = "") -> JSON:
    condition: JSON = {
        "type": kind,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": now,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def simulated_status(pod: JSON, node: JSON, pod_ip: str, now: float) -> JSON:
    """The status a kubelet would have written once the pod settled in its simulated mode."""
    spec, metadata = pod.get("spec") or {}, pod["metadata"]
    mode = (metadata.get("annotations") or {}).get(ANNOTATION, "")
    stamp = rfc3339(now)
    uid = metadata["uid"]
    inits = spec.get("initContainers") or []
    containers = sorted(spec.get("containers") or [], key=lambda c: c["name"])

    def base(container: JSON) -> JSON:
        return {
            "name": container["name"],
            "image": _image(container.get("image", "")),
            "imageID": _image_id(_image(container.get("image", ""))),
            "containerID": f"containerd://{_hex(uid, container['name'])}",
            "restartCount": 0,
            "lastState": {},
        }

    def running(container: JSON, ready: bool) -> JSON:
        return {
            **base(container),
            "state": {"running": {"startedAt": stamp}},
            "ready": ready,
            "started": True,
        }

    def terminated(container: JSON, code: int) -> JSON:
        reason = "Completed" if code == 0 else "Error"
        state = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": stamp,
                "finishedAt": stamp,
                "containerID": f"containerd://{_hex(uid, container['name'])}",
            }
        }
        return {**base(container), "state": state, "ready": False, "started": False}

    def waiting(container: JSON, reason: str) -> JSON:
        status = {
            **base(container),
            "state": {"waiting": {"reason": reason}},
            "ready": False,
            "started": False,
        }
        del status["containerID"]
        status["imageID"] = ""
        return status

    sidecars = [c for c in inits if c.get("restartPolicy") == "Always"]
    init_statuses = [running(c, True) if c in sidecars else terminated(c, 0) for c in inits]
    names = [c["name"] for c in containers]
    phase, initialized, ready = "Running", True, True
    unready: list[str] = []
    if mode == "stuck-init" and inits:
        first = inits[0]
        init_statuses = [running(first, False)] + [waiting(c, "PodInitializing") for c in inits[1:]]
        statuses = [waiting(c, "PodInitializing") for c in containers]
        phase, initialized, ready, unready = "Pending", False, False, names
    elif mode == "stuck-init":
        statuses = [waiting(c, "ContainerCreating") for c in containers]
        phase, ready, unready = "Pending", False, names
    elif mode == "crashloop":
        statuses = []
        for c in containers:
            entry = waiting(c, "CrashLoopBackOff")
            entry["containerID"] = f"containerd://{_hex(uid, c['name'])}"
            entry["imageID"] = _image_id(entry["image"])
            entry["state"]["waiting"]["message"] = (
                f"back-off 10s restarting failed container={c['name']} pod={metadata['name']}_"
                f"{metadata['namespace']}({uid})"
            )
            entry["lastState"] = {"terminated": terminated(c, 1)["state"]["terminated"]}
            entry["restartCount"] = 1
            statuses.append(entry)
        ready, unready = False, names
    elif mode in ("succeed", "fail"):
        statuses = [terminated(c, 0 if mode == "succeed" else 1) for c in containers]
        phase, ready = ("Succeeded" if mode == "succeed" else "Failed"), False
    else:
        statuses = [running(c, mode != "not-ready") for c in containers]
        if mode == "not-ready":
            ready, unready = False, names
    conditions = [_condition("PodReadyToStartContainers", True, stamp)]
    if initialized:
        conditions.append(
            _condition("Initialized", True, stamp, "PodCompleted" if phase == "Succeeded" else "")
        )
    else:
        pending = ", ".join(c["name"] for c in inits)
        conditions.append(
            _condition(
                "Initialized",
                False,
                stamp,
                "ContainersNotInitialized",
                f"containers with incomplete status: [{pending}]",
            )
        )
    if phase in ("Succeeded", "Failed"):
        reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
        conditions += [
            _condition("Ready", False, stamp, reason),
            _condition("ContainersReady", False, stamp, reason),
        ]
    elif ready:
        conditions += [_condition("Ready", True, stamp), _condition("ContainersReady", True, stamp)]
    else:
        message = f"containers with unready status: [{' '.join(unready)}]"
        conditions += [
            _condition("Ready", False, stamp, "ContainersNotReady", message),
            _condition("ContainersReady", False, stamp, "ContainersNotReady", message),
        ]
    scheduled = next(
        (c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"),
        None,
    )
    conditions.append(scheduled or _condition("PodScheduled", True, stamp))
    host_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    status: JSON = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": stamp,
        "containerStatuses": statuses,
        "qosClass": (pod.get("status") or {}).get("qosClass", "BestEffort"),
    }
    if inits:
        status["initContainerStatuses"] = init_statuses
    return status


class _PodWorker(Controller):
    """The pod side of every simulated kubelet: one queue for all their pods, so thousands stay cheap."""

    name = "simulated-kubelet"
    watches: ClassVar[tuple[str, ...]] = ("pods",)

    def __init__(self, context: Context, nodes: SimulatedNodes) -> None:
        super().__init__(context)
        self.nodes = nodes

    def keys_for(self, change: Change) -> Iterable[Key]:
        node = (change.obj.get("spec") or {}).get("nodeName") or ""
        if change.type == "DELETED":
            self.nodes.release(change.obj)
            return []
        return [key_of(change.obj)] if node in self.nodes.names else []

    def resync(self) -> None:
        for pod in self.client.store.list_objects("pods")[0]:
            if (pod.get("spec") or {}).get("nodeName") in self.nodes.names:
                self.queue.add(key_of(pod))

    def reconcile(self, key: Key) -> float | None:
        return self.nodes.sync_pod(key)


class SimulatedNodes:
    """`count` nodes named `<prefix><i>`, registered, heartbeating and running their pods in simulation."""

    def __init__(
        self, cluster: Cluster, clock: Clock, count: int, prefix: str = "sim-", lease_duration: float = 40.0
    ) -> None:
        self.cluster = cluster
        self.clock = clock
        self.names = [f"{prefix}{i}" for i in range(count)]
        self.lease_duration = lease_duration
        self._clients = {name: Client(cluster, node_user(name)) for name in self.names}
        self._paused: set[str] = set()
        self._lock = threading.Lock()
        self._ips: dict[str, dict[str, str]] = {}
        """Per node: pod uid -> IP from its podCIDR."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_status = 0.0
        context = Context(cluster, clock, ControllerSettings(resync_period=30.0))
        self._worker = _PodWorker(context, self)
        self._manager = Manager(context, [self._worker])

    # --- lifecycle ---

    def start(self) -> None:
        for name in self.names:
            self._register(name)
        self._recover_ips()
        self._renew_all(force_status=True)
        self._thread = threading.Thread(target=self._heartbeats, name="lab-simulated-nodes", daemon=True)
        self._thread.start()
        self._manager.start()

    def stop(self) -> None:
        self._stop.set()
        self._manager.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def pause(self, name: str) -> None:
        """The node's kubelet dies: no more heartbeats, status writes or final deletes."""
        with self._lock:
            self._paused.add(name)

    def resume(self, name: str) -> None:
        with self._lock:
            self._paused.discard(name)
        self._renew(name, force_status=True)
        for pod in self.cluster.store.list_objects("pods")[0]:
            if (pod.get("spec") or {}).get("nodeName") == name:
                self._worker.queue.add(key_of(pod))

    def paused(self, name: str) -> bool:
        with self._lock:
            return name in self._paused

    # --- nodes ---

    def _register(self, name: str) -> None:
        client = self._clients[name]
        existing = client.get("nodes", "", name)
        if existing is not None:
            return
        index = len(self.cluster.store.list_objects("nodes")[0])
        now = rfc3339(self.clock.now())
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "beta.kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    SIMULATED_LABEL: "true",
                },
                "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": {"podCIDR": f"127.244.{index}.0/24", "podCIDRs": [f"127.244.{index}.0/24"]},
            "status": {
                "capacity": _resources(),
                "allocatable": _resources(),
                "conditions": _node_conditions(now, now),
                "addresses": [
                    {"type": "InternalIP", "address": f"127.0.{index + 1}.1"},
                    {"type": "Hostname", "address": name},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": _hex("machine", name)[:32],
                    "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                    "bootID": str(uuid.uuid4()),
                    "kernelVersion": os.uname().release,
                    "osImage": "vaultinject lab (simulated)",
                    "containerRuntimeVersion": "containerd://1.7.24",
                    "kubeletVersion": KUBELET_VERSION,
                    "kubeProxyVersion": KUBELET_VERSION,
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            },
        }
        client.create("nodes", "", node)

    def _heartbeats(self) -> None:
        interval = self.lease_duration * 0.25  # nodeLeaseRenewIntervalFraction
        while not self._stop.wait(interval):
            self._renew_all(force_status=False)
            self._complete_deletions()

    def _renew_all(self, force_status: bool) -> None:
        now = self.clock.now()
        post_status = force_status or now - self._last_status >= _NODE_STATUS_PERIOD
        if post_status:
            self._last_status = now
        for name in self.names:
            if not self.paused(name):
                self._renew(name, post_status)

    def _renew(self, name: str, force_status: bool) -> None:
        client = self._clients[name]
        try:
            node = client.get("nodes", "", name)
            if node is None:
                return
            lease = client.get("leases.coordination.k8s.io", "kube-node-lease", name)
            renew = micro_time(self.clock.now())
            if lease is None:
                client.create(
                    "leases.coordination.k8s.io",
                    "kube-node-lease",
                    {
                        "metadata": {
                            "name": name,
                            "ownerReferences": [
                                {
                                    "apiVersion": "v1",
                                    "kind": "Node",
                                    "name": name,
                                    "uid": node["metadata"]["uid"],
                                }
                            ],
                        },
                        "spec": {
                            "holderIdentity": name,
                            "leaseDurationSeconds": int(max(self.lease_duration, 1)),
                            "renewTime": renew,
                        },
                    },
                )
            else:
                lease["spec"]["renewTime"] = renew
                client.replace("leases.coordination.k8s.io", lease)
            ready = next(
                (c for c in node["status"].get("conditions") or [] if c.get("type") == "Ready"), None
            )
            if force_status or ready is None or ready.get("status") != "True":
                now = rfc3339(self.clock.now())
                since = ready["lastTransitionTime"] if ready and ready.get("status") == "True" else now
                node["status"]["conditions"] = _node_conditions(now, since)
                client.replace("nodes", node, subresource="status")
        except ApiError as error:
            log.debug("simulated node %s heartbeat: %s", name, error.message)

    # --- pods ---

    def _recover_ips(self) -> None:
        for pod in self.cluster.store.list_objects("pods")[0]:
            node, ip = (pod.get("spec") or {}).get("nodeName"), (pod.get("status") or {}).get("podIP")
            if node in self.names and ip:
                with self._lock:
                    self._ips.setdefault(node, {})[pod["metadata"]["uid"]] = ip

    def _allocate(self, node: JSON, uid: str) -> str:
        name = node["metadata"]["name"]
        network = ipaddress.ip_network(node["spec"]["podCIDR"])
        with self._lock:
            used = self._ips.setdefault(name, {})
            if uid in used:
                return used[uid]
            taken = set(used.values())
            for host in list(network.hosts())[1:]:  # .1 is the node's own
                if str(host) not in taken:
                    used[uid] = str(host)
                    return str(host)
        raise RuntimeError(f"node {name}: no free pod IP in {network}")

    def release(self, pod: JSON) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        with self._lock:
            self._ips.get(node or "", {}).pop(pod["metadata"]["uid"], None)

    def sync_pod(self, key: Key) -> float | None:
        pod = self.cluster.store.get("pods", *key)
        if pod is None:
            return None
        name = pod["spec"].get("nodeName") or ""
        if name not in self._clients or self.paused(name):
            return None
        client = self._clients[name]
        metadata = pod["metadata"]
        if metadata.get("deletionTimestamp"):
            remaining = parse_time(metadata["deletionTimestamp"]) - self.clock.now()
            if remaining > 0:
                return min(remaining, 1.0)
            client.delete(
                "pods", metadata["namespace"], metadata["name"], grace_period=0, uid=metadata["uid"]
            )
            return None
        mode = (metadata.get("annotations") or {}).get(ANNOTATION, "")
        status = pod.get("status") or {}
        if status.get("podIP") and self._settled(pod, mode):
            return None
        node = self.cluster.store.get("nodes", "", name)
        if node is None:
            return None
        ip = status.get("podIP") or self._allocate(node, metadata["uid"])
        updated = dict(pod)
        updated["status"] = simulated_status(pod, node, ip, self.clock.now())
        if status.get("startTime"):
            updated["status"]["startTime"] = status["startTime"]
        client.replace("pods", updated, subresource="status")
        return None

    @staticmethod
    def _settled(pod: JSON, mode: str) -> bool:
        """Whether the written status already is the mode's (so a change elsewhere needs no write)."""
        status = pod.get("status") or {}
        ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        if not ready or not status.get("containerStatuses"):
            return False
        if mode in ("succeed", "fail"):
            return status.get("phase") in ("Succeeded", "Failed")
        if mode == "stuck-init":
            return status.get("phase") == "Pending"
        if mode in ("crashloop", "not-ready"):
            return status.get("phase") == "Running"
        return status.get("phase") == "Running" and ready.get("status") == "True"

    def _complete_deletions(self) -> None:
        for pod in self.cluster.store.list_objects("pods")[0]:
            if (
                pod["metadata"].get("deletionTimestamp")
                and (pod.get("spec") or {}).get("nodeName") in self._clients
            ):
                self._worker.queue.add(key_of(pod))


def _resources() -> JSON:
    return {
        "cpu": "32",
        "ephemeral-storage": "263174212Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "131891780Ki",
        "pods": "110",
    }


def _node_conditions(heartbeat: str, since: str) -> list[JSON]:
    rows = (
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    )
    return [
        {
            "type": t,
            "status": v,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": since,
            "reason": r,
            "message": m,
        }
        for t, v, r, m in rows
    ]
