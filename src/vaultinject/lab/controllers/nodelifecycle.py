"""node-controller (`nodelifecycle.Controller`): node health from Ready heartbeats and `kube-node-lease`
Leases, conditions to Unknown after the grace period, NoSchedule and NoExecute taints, MarkPodsNotReady,
NodeNotReady events, and the zone disruption modes that stop NoExecute tainting."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from vaultinject.lab.controllers import scheduling as s
from vaultinject.lab.controllers.base import Controller, Key
from vaultinject.lab.controllers.client import ApiError
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.kube.clock import parse_time, rfc3339
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
log = logging.getLogger(__name__)
_ALL: Key = ("", "")
_WATCHED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
# doNoScheduleTaintingPass: condition type and status -> taint key.
_CONDITION_TAINTS = {
    ("Ready", "False"): s.NOT_READY,
    ("Ready", "Unknown"): s.UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
_NO_SCHEDULE_KEYS = {*_CONDITION_TAINTS.values(), s.UNSCHEDULABLE}
_NO_EXECUTE_KEYS = {s.NOT_READY, s.UNREACHABLE}
_ZONE_LABEL = "topology.kubernetes.io/zone"
_UNHEALTHY_ZONE_THRESHOLD = 0.55
_LARGE_CLUSTER_THRESHOLD = 50


@dataclass
class _Health:
    probe: float
    heartbeat: str | None
    renew: str | None
    ready: str


def zone_state(statuses: list[str]) -> str:
    """ComputeZoneState over the Ready statuses of one zone's nodes."""
    not_ready = sum(1 for status in statuses if status != "True")
    ready = len(statuses) - not_ready
    if ready == 0 and not_ready > 0:
        return "FullDisruption"
    if not_ready > 2 and not_ready / len(statuses) >= _UNHEALTHY_ZONE_THRESHOLD:
        return "PartialDisruption"
    return "Normal"


@register
class NodeLifecycle(Controller):
    name = "node-controller"
    watches: ClassVar[tuple[str, ...]] = ("nodes", "leases.coordination.k8s.io")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._health: dict[str, _Health] = {}

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.storage == "nodes" or change.obj["metadata"].get("namespace") == "kube-node-lease":
            return [_ALL]
        return []

    def resync(self) -> None:
        self.queue.add(_ALL)

    def reconcile(self, key: Key) -> float | None:
        del key
        nodes = self.client.store.list_objects("nodes")[0]
        names = {n["metadata"]["name"] for n in nodes}
        for gone in set(self._health) - names:
            del self._health[gone]
        updated = []
        for node in nodes:
            try:
                updated.append(self._monitor(node))
            except ApiError as error:
                log.debug("node %s: %s", node["metadata"]["name"], error.message)
                updated.append(node)
        zones: dict[str, list[str]] = {}
        for node in updated:
            zone = (node["metadata"].get("labels") or {}).get(_ZONE_LABEL, "")
            zones.setdefault(zone, []).append(s.ready_status(node))
        states = {zone: zone_state(statuses) for zone, statuses in zones.items()}
        master_disruption = bool(states) and all(v == "FullDisruption" for v in states.values())
        for node in updated:
            zone = (node["metadata"].get("labels") or {}).get(_ZONE_LABEL, "")
            try:
                self._no_schedule_taints(node)
                self._no_execute_taints(node, master_disruption, states[zone], len(zones[zone]))
            except ApiError as error:
                log.debug("node %s taints: %s", node["metadata"]["name"], error.message)
                return 0.05
        return self.settings.node_monitor_period

    # --- health ---

    def _monitor(self, node: JSON) -> JSON:
        """tryUpdateNodeHealth, then the Ready->not-Ready edge (event, MarkPodsNotReady)."""
        name = node["metadata"]["name"]
        now = self.clock.now()
        ready = s.condition(node, "Ready")
        lease = self.client.store.get("leases.coordination.k8s.io", "kube-node-lease", name)
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        heartbeat = (ready or {}).get("lastHeartbeatTime")
        health = self._health.get(name)
        if health is None:
            created = parse_time(node["metadata"]["creationTimestamp"])
            probe = created if ready is None else now
            health = self._health[name] = _Health(probe, heartbeat, renew, s.ready_status(node))
        elif heartbeat != health.heartbeat or (renew is not None and renew != health.renew):
            health.probe, health.heartbeat, health.renew = now, heartbeat, renew
        grace = (
            self.settings.node_startup_grace_period
            if ready is None
            else self.settings.node_monitor_grace_period
        )
        if now > health.probe + grace:
            node = self._mark_unknown(node, now)
        observed, health.ready = health.ready, s.ready_status(node)
        if observed == "True" and health.ready != "True":
            self.events.normal(_node_ref(node), "NodeNotReady", f"Node {name} status is now: NodeNotReady")
            self._mark_pods_not_ready(name)
        return node

    def _mark_unknown(self, node: JSON, now: float) -> JSON:
        conditions = list((node.get("status") or {}).get("conditions") or [])
        changed = False
        for kind in _WATCHED_CONDITIONS:
            current = next((c for c in conditions if c.get("type") == kind), None)
            if current is None:
                conditions.append(
                    {
                        "type": kind,
                        "status": "Unknown",
                        "reason": "NodeStatusNeverUpdated",
                        "message": "Kubelet never posted node status.",
                        "lastHeartbeatTime": node["metadata"]["creationTimestamp"],
                        "lastTransitionTime": rfc3339(now),
                    }
                )
                changed = True
            elif current.get("status") != "Unknown":
                current.update(
                    status="Unknown",
                    reason="NodeStatusUnknown",
                    message="Kubelet stopped posting node status.",
                    lastTransitionTime=rfc3339(now),
                )
                changed = True
        if not changed:
            return node
        node.setdefault("status", {})["conditions"] = conditions
        return self.client.replace("nodes", node, subresource="status")

    def _mark_pods_not_ready(self, node_name: str) -> None:
        """MarkPodsNotReady: Ready=False, reason and message left as they were; a Warning per pod."""
        for pod in self.client.store.list_objects("pods")[0]:
            if s.node_of(pod) != node_name:
                continue
            ready = s.condition(pod, "Ready")
            if ready is None or ready.get("status") == "False":
                continue
            conditions = [
                {**c, "status": "False", "lastTransitionTime": rfc3339(self.clock.now())}
                if c.get("type") == "Ready"
                else c
                for c in pod["status"]["conditions"]
            ]
            namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            self.events.warning(pod, "NodeNotReady", "Node is not ready")
            try:
                self.client.patch(
                    "pods", namespace, name, {"status": {"conditions": conditions}}, subresource="status"
                )
            except ApiError as error:
                log.debug("marking %s/%s not ready: %s", namespace, name, error.message)

    # --- taints ---

    def _no_schedule_taints(self, node: JSON) -> None:
        status = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        wanted = {key for (kind, value), key in _CONDITION_TAINTS.items() if status.get(kind) == value}
        if (node.get("spec") or {}).get("unschedulable"):
            wanted.add(s.UNSCHEDULABLE)
        have = {
            t["key"]
            for t in s.taints(node)
            if t.get("effect") == s.NO_SCHEDULE and t.get("key") in _NO_SCHEDULE_KEYS
        }
        self._swap(node, s.NO_SCHEDULE, wanted - have, have - wanted)

    def _no_execute_taints(self, node: JSON, master_disruption: bool, zone: str, zone_size: int) -> None:
        ready = s.ready_status(node)
        have = {
            t["key"]
            for t in s.taints(node)
            if t.get("effect") == s.NO_EXECUTE and t.get("key") in _NO_EXECUTE_KEYS
        }
        if master_disruption or ready == "True":
            self._swap(node, s.NO_EXECUTE, set(), have)
            return
        wanted = {s.NOT_READY if ready == "False" else s.UNREACHABLE}
        if wanted <= have:
            return
        if zone == "PartialDisruption" and zone_size <= _LARGE_CLUSTER_THRESHOLD:
            return  # eviction rate 0 in a small, partially disrupted zone: no new NoExecute taints
        self._swap(node, s.NO_EXECUTE, wanted - have, have - wanted)

    def _swap(self, node: JSON, effect: str, add: set[str], remove: set[str]) -> None:
        """SwapNodeControllerTaint: one node update, new taints stamped with timeAdded."""
        if not add and not remove:
            return
        name = node["metadata"]["name"]
        current = self.client.get("nodes", "", name)
        if current is None:
            return
        now = rfc3339(self.clock.now())
        kept = [t for t in s.taints(current) if not (t.get("effect") == effect and t.get("key") in remove)]
        present = {t.get("key") for t in kept if t.get("effect") == effect}
        kept += [{"key": key, "effect": effect, "timeAdded": now} for key in sorted(add - present)]
        current.setdefault("spec", {})["taints"] = kept
        if not kept:
            current["spec"].pop("taints")
        self.client.replace("nodes", current)


def _node_ref(node: JSON) -> JSON:
    """RecordNodeStatusChange refers to a node by a UID equal to its name."""
    return {**node, "metadata": {**node["metadata"], "uid": node["metadata"]["name"]}}
