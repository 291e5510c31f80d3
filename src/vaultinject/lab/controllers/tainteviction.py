"""taint-eviction-controller (`tainteviction.Controller`): deletes pods from nodes with NoExecute taints
they do not tolerate, at once or after the smallest tolerationSeconds of the tolerations in use, counted
from when this controller observed the taint."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, ClassVar

from vaultinject.lab.controllers import scheduling as s
from vaultinject.lab.controllers.base import Controller, Key, key_of
from vaultinject.lab.controllers.client import STRATEGIC_PATCH
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.kube.clock import rfc3339
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
_FIRED = -1.0


def min_toleration_seconds(node_taints: list[JSON], tolerations: list[JSON]) -> float | None:
    """getMinTolerationTime over the tolerations used: None = forever, 0 = now (also when untolerated)."""
    used = [t for t in tolerations if any(s.tolerates(t, taint) for taint in node_taints)]
    if any(not any(s.tolerates(t, taint) for t in tolerations) for taint in node_taints):
        return 0.0
    seconds = [t["tolerationSeconds"] for t in used if isinstance(t.get("tolerationSeconds"), int)]
    if not seconds:
        return None
    return float(max(min(seconds), 0))


@register
class TaintEviction(Controller):
    name = "taint-eviction-controller"
    watches: ClassVar[tuple[str, ...]] = ("pods", "nodes")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._by_node: dict[str, set[Key]] = {}
        self._node_taints: dict[str, tuple[Any, ...]] = {}
        self._due: dict[Key, tuple[str, float]] = {}
        """Scheduled evictions: pod key -> (pod uid, when the taint was observed; _FIRED once deleted)."""

    def keys_for(self, change: Change) -> Iterable[Key]:
        obj = change.obj
        if change.storage == "pods":
            key, node = key_of(obj), s.node_of(obj)
            with self._lock:
                previous = s.node_of(change.prev) if change.prev else ""
                if previous and previous != node:
                    self._by_node.get(previous, set()).discard(key)
                if change.type == "DELETED":
                    self._by_node.get(node, set()).discard(key)
                elif node:
                    self._by_node.setdefault(node, set()).add(key)
            return [key] if node or change.type == "DELETED" else []
        name = obj["metadata"]["name"]
        no_execute = tuple(
            (t.get("key"), t.get("value")) for t in s.taints(obj) if t.get("effect") == s.NO_EXECUTE
        )
        with self._lock:
            if change.type != "DELETED" and self._node_taints.get(name) == no_execute:
                return []
            self._node_taints[name] = no_execute
            return list(self._by_node.get(name, ()))

    def reconcile(self, key: Key) -> float | None:
        pod = self.client.store.get("pods", *key)
        scheduled = self._due.get(key)
        if pod is None or (scheduled and scheduled[0] != pod["metadata"]["uid"]):
            self._due.pop(key, None)
            if pod is None:
                return None
            scheduled = None
        node = self.client.store.get("nodes", "", s.node_of(pod)) if s.node_of(pod) else None
        node_taints = [t for t in s.taints(node or {}) if t.get("effect") == s.NO_EXECUTE]
        if not node_taints:
            self._cancel(pod, scheduled)
            return None
        seconds = min_toleration_seconds(node_taints, s.tolerations_of(pod))
        if seconds is None:
            self._cancel(pod, scheduled)  # tolerated forever
            return None
        if scheduled and scheduled[1] == _FIRED:
            return None
        now = self.clock.now()
        start = now if scheduled is None else scheduled[1]
        self._due[key] = (pod["metadata"]["uid"], start)
        due = start + seconds
        if now < due:
            return min(due - now, self.settings.node_monitor_period)
        self._evict(pod)
        self._due[key] = (pod["metadata"]["uid"], _FIRED)
        return None

    def _cancel(self, pod: JSON, scheduled: tuple[str, float] | None) -> None:
        key = key_of(pod)
        self._due.pop(key, None)
        if scheduled and scheduled[1] != _FIRED:
            self.events.normal(pod, "TaintManagerEviction", f"Cancelling deletion of Pod {key[0]}/{key[1]}")

    def _evict(self, pod: JSON) -> None:
        """addConditionAndDeletePod: DisruptionTarget, then a DELETE with the pod's own grace period."""
        namespace, name = key_of(pod)
        self.events.normal(pod, "TaintManagerEviction", f"Marking for deletion Pod {namespace}/{name}")
        target = s.condition(pod, "DisruptionTarget")
        if not (target and target.get("status") == "True"):
            condition = {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint",
                "lastProbeTime": None,
                "lastTransitionTime": rfc3339(self.clock.now()),
            }
            patch = {"status": {"conditions": [condition]}}
            self.client.patch(
                "pods", namespace, name, patch, subresource="status", content_type=STRATEGIC_PATCH
            )
        self.client.delete("pods", namespace, name, uid=pod["metadata"]["uid"])
