"""default-scheduler: binds pending pods to nodes through `pods/binding`, with the default profile's
filters (NodeUnschedulable, NodeName, TaintToleration, NodeAffinity) and a spreading score; when nothing
fits, PodScheduled=False/Unschedulable with the scheduler's FitError text and a FailedScheduling event."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any, ClassVar

from vaultinject.lab.controllers import scheduling as s
from vaultinject.lab.controllers.base import Controller, Key, controller_owner, key_of
from vaultinject.lab.controllers.client import STRATEGIC_PATCH
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.kube import subresources
from vaultinject.lab.kube.clock import rfc3339
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
_UNSCHEDULABLE = "node(s) were unschedulable"
_NODE_NAME = "node(s) didn't match the requested node name"
NO_NODES = "no nodes available to schedule pods"


def _wants_scheduling(pod: JSON) -> bool:
    spec = pod.get("spec") or {}
    return (
        not spec.get("nodeName")
        and not pod["metadata"].get("deletionTimestamp")
        and spec.get("schedulerName", "default-scheduler") == "default-scheduler"
        and not spec.get("schedulingGates")
        and not s.is_terminal(pod)
    )


def _node_signature(node: JSON) -> tuple[Any, ...]:
    """What scheduling depends on; heartbeats alone do not make pending pods worth another try."""
    spec = node.get("spec") or {}
    labels = tuple(sorted((node["metadata"].get("labels") or {}).items()))
    node_taints = tuple((t.get("key"), t.get("value"), t.get("effect")) for t in s.taints(node))
    return labels, node_taints, bool(spec.get("unschedulable")), s.ready_status(node)


def filter_reason(pod: JSON, node: JSON) -> str | None:
    """Why `node` cannot take `pod` (the first failing filter, in the default profile's order)."""
    spec = pod.get("spec") or {}
    tolerations = s.tolerations_of(pod)
    if (node.get("spec") or {}).get("unschedulable"):
        taint = {"key": s.UNSCHEDULABLE, "effect": s.NO_SCHEDULE}
        if not any(s.tolerates(t, taint) for t in tolerations):
            return _UNSCHEDULABLE
    wanted = spec.get("nodeName")
    if wanted and wanted != node["metadata"]["name"]:
        return _NODE_NAME
    node_taints = s.taints(node)
    if s.ready_status(node) != "True" and not any(
        t.get("key") in (s.NOT_READY, s.UNREACHABLE) for t in node_taints
    ):
        # A kubelet registers NotReady with this taint; a node that lost it still must not get pods.
        node_taints = [*node_taints, {"key": s.NOT_READY, "effect": s.NO_SCHEDULE}]
    found = s.untolerated(node_taints, tolerations, (s.NO_SCHEDULE, s.NO_EXECUTE))
    if found is not None:
        return f"node(s) had untolerated taint {{{found.get('key', '')}: {found.get('value') or ''}}}"
    if not s.matches_node(pod, node):
        return _AFFINITY
    return None


def fit_error(total: int, reasons: Iterable[str]) -> str:
    """FitError.Error() plus the default PostFilter's text: every filter here is unresolvable."""
    histogram = Counter(reasons)
    parts = sorted(f"{count} {reason}" for reason, count in histogram.items())
    return (
        f"0/{total} nodes are available: {', '.join(parts)}. preemption: 0/{total} nodes are available: "
        f"{total} Preemption is not helpful for scheduling."
    )


@register
class Scheduler(Controller):
    name = "default-scheduler"
    watches: ClassVar[tuple[str, ...]] = ("pods", "nodes")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._pending: set[Key] = set()
        self._placed: dict[Key, tuple[str, str]] = {}
        """Bound, live pods: (node, controller owner uid), kept from the change stream for scoring."""
        self._signatures: dict[str, tuple[Any, ...]] = {}

    def resync(self) -> None:
        for pod in self.client.store.list_objects("pods")[0]:
            self._track(pod, deleted=False)
        super().resync()

    def _track(self, pod: JSON, deleted: bool) -> bool:
        key = key_of(pod)
        with self._lock:
            if deleted or s.is_terminal(pod):
                self._placed.pop(key, None)
                self._pending.discard(key)
                return False
            node = s.node_of(pod)
            if node:
                owner = controller_owner(pod)
                self._placed[key] = (node, owner["uid"] if owner else "")
                self._pending.discard(key)
                return False
            if _wants_scheduling(pod):
                self._pending.add(key)
                return True
            self._pending.discard(key)
            return False

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.storage == "pods":
            wanted = self._track(change.obj, change.type == "DELETED")
            # A status write (ours, after a failed attempt) is no reason to try again; a spec change is.
            changed = change.prev is None or change.prev.get("spec") != change.obj.get("spec")
            return [key_of(change.obj)] if wanted and changed else []
        name = change.obj["metadata"]["name"]
        signature = None if change.type == "DELETED" else _node_signature(change.obj)
        with self._lock:
            if self._signatures.get(name) == signature:
                return []
            if signature is None:
                self._signatures.pop(name, None)
            else:
                self._signatures[name] = signature
            return list(self._pending)

    def reconcile(self, key: Key) -> float | None:
        pod = self.client.store.get("pods", *key)
        if pod is None or not _wants_scheduling(pod):
            return None
        nodes = self.client.store.list_objects("nodes")[0]
        if not nodes:
            self._unschedulable(pod, NO_NODES)
            return None
        reasons: list[str] = []
        feasible: list[JSON] = []
        for node in nodes:
            reason = filter_reason(pod, node)
            if reason is None:
                feasible.append(node)
            else:
                reasons.append(reason)
        if not feasible:
            self._unschedulable(pod, fit_error(len(nodes), reasons))
            return None
        node_name = self._best(pod, feasible)
        namespace, name = key
        body = {
            "metadata": {"name": name, "namespace": namespace},
            "target": {"kind": "Node", "name": node_name},
        }
        subresources.bind(self.cluster, namespace, name, body)
        owner = controller_owner(pod)
        with self._lock:
            self._placed[key] = (node_name, owner["uid"] if owner else "")
            self._pending.discard(key)
        self.events.normal(pod, "Scheduled", f"Successfully assigned {namespace}/{name} to {node_name}")
        return None

    def _best(self, pod: JSON, feasible: list[JSON]) -> str:
        owner = controller_owner(pod)
        uid = owner["uid"] if owner else None
        with self._lock:
            placed = list(self._placed.values())
        same = Counter(node for node, owner_uid in placed if uid and owner_uid == uid)
        every = Counter(node for node, _ in placed)
        names = sorted(n["metadata"]["name"] for n in feasible)
        return str(min(names, key=lambda n: (same[n], every[n])))

    def _unschedulable(self, pod: JSON, message: str) -> None:
        namespace, name = key_of(pod)
        current = s.condition(pod, "PodScheduled")
        if not (current and current.get("reason") == "Unschedulable" and current.get("message") == message):
            condition = {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
                "lastProbeTime": None,
                "lastTransitionTime": rfc3339(self.clock.now()),
            }
            if current and current.get("status") == "False":
                condition["lastTransitionTime"] = current.get("lastTransitionTime")
            patch = {"status": {"conditions": [condition]}}
            self.client.patch(
                "pods", namespace, name, patch, subresource="status", content_type=STRATEGIC_PATCH
            )
        self.events.warning(pod, "FailedScheduling", message)
