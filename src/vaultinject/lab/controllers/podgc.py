"""pod-garbage-collector (`podgc.PodGCController`): force-deletes pods whose node is gone (after the
orphan quarantine), terminating pods on NotReady nodes with the out-of-service taint, and terminating
pods that were never scheduled."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from vaultinject.lab.controllers import scheduling as s
from vaultinject.lab.controllers.base import Controller, Key, key_of
from vaultinject.lab.controllers.client import STRATEGIC_PATCH
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.kube.clock import rfc3339
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
_ALL: Key = ("", "")
_GC_PERIOD = 20.0


@register
class PodGC(Controller):
    name = "pod-garbage-collector"
    watches: ClassVar[tuple[str, ...]] = ("nodes",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._missing_since: dict[str, float] = {}

    def keys_for(self, change: Change) -> Iterable[Key]:
        del change
        return [_ALL]

    def resync(self) -> None:
        self.queue.add(_ALL)

    def reconcile(self, key: Key) -> float | None:
        del key
        now = self.clock.now()
        quarantine = self.settings.pod_gc_orphan_quarantine
        nodes = {n["metadata"]["name"]: n for n in self.client.store.list_objects("nodes")[0]}
        pods = self.client.store.list_objects("pods")[0]
        missing = {s.node_of(p) for p in pods if s.node_of(p) and s.node_of(p) not in nodes}
        self._missing_since = {n: self._missing_since.get(n, now) for n in missing}
        for pod in pods:
            node_name = s.node_of(pod)
            terminating = bool(pod["metadata"].get("deletionTimestamp"))
            if node_name in missing:
                if now - self._missing_since[node_name] >= quarantine and not self._exists(node_name):
                    self._fail_and_delete(pod, "DeletionByPodGC", "PodGC: node no longer exists")
            elif not node_name and terminating:
                self._fail_and_delete(pod)  # gcUnscheduledTerminating
            elif terminating and self._out_of_service(nodes.get(node_name)):
                self._fail_and_delete(pod)  # gcTerminating
        pending = [quarantine - (now - t) for t in self._missing_since.values()]
        # Short quarantines (drills) are checked as often as they need; otherwise every 20 s.
        return max(min([_GC_PERIOD, quarantine, *pending]), 0.05)

    def _exists(self, node_name: str) -> bool:
        """gcOrphaned confirms with a fresh read that the node is really gone."""
        return self.client.store.get("nodes", "", node_name) is not None

    @staticmethod
    def _out_of_service(node: JSON | None) -> bool:
        if node is None or s.ready_status(node) == "True":
            return False
        return any(t.get("key") == s.OUT_OF_SERVICE for t in s.taints(node))

    def _fail_and_delete(self, pod: JSON, reason: str = "", message: str = "") -> None:
        """markFailedAndDeletePodWithCondition: phase Failed (with DisruptionTarget), then delete grace 0."""
        namespace, name = key_of(pod)
        if not s.is_terminal(pod):
            status: JSON = {"phase": "Failed"}
            if reason:
                status["conditions"] = [
                    {
                        "type": "DisruptionTarget",
                        "status": "True",
                        "reason": reason,
                        "message": message,
                        "lastProbeTime": None,
                        "lastTransitionTime": rfc3339(self.clock.now()),
                    }
                ]
            self.client.patch(
                "pods",
                namespace,
                name,
                {"status": status},
                subresource="status",
                content_type=STRATEGIC_PATCH,
            )
        self.client.delete("pods", namespace, name, grace_period=0, uid=pod["metadata"]["uid"])
