"""daemonset-controller: one pod per eligible node, pinned by required node affinity (matchFields
metadata.name) and left to the scheduler, with the DaemonSet default tolerations; RollingUpdate with
maxUnavailable, OnDelete; status as `kubectl rollout status ds` reads it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, ClassVar

from vaultinject.lab.controllers import scheduling as s
from vaultinject.lab.controllers.base import Controller, Key, controller_owner, key_of
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.kube.clock import parse_time
from vaultinject.lab.kube.model import clone
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
STORAGE = "daemonsets.apps"
HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def default_tolerations(spec: JSON) -> list[JSON]:
    """AddOrUpdateDaemonPodTolerations: what every daemon pod tolerates."""
    extra = [
        {"key": s.NOT_READY, "operator": "Exists", "effect": s.NO_EXECUTE},
        {"key": s.UNREACHABLE, "operator": "Exists", "effect": s.NO_EXECUTE},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": s.NO_SCHEDULE},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": s.NO_SCHEDULE},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": s.NO_SCHEDULE},
        {"key": s.UNSCHEDULABLE, "operator": "Exists", "effect": s.NO_SCHEDULE},
    ]
    if spec.get("hostNetwork"):
        extra.append(
            {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": s.NO_SCHEDULE}
        )
    tolerations = [t for t in spec.get("tolerations") or [] if isinstance(t, dict)]
    for toleration in extra:
        tolerations = [
            t
            for t in tolerations
            if (t.get("key"), t.get("effect")) != (toleration["key"], toleration["effect"])
        ]
        tolerations.append(toleration)
    return tolerations


def template_hash(template: JSON) -> str:
    """A stable hash of the pod template in the API server's safe alphabet (the revision's name suffix)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def _affinity(spec: JSON, node: str) -> JSON:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the node term replaces any matchFields of the template."""
    affinity: JSON = clone(spec.get("affinity") or {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    return affinity


def should_run(ds: JSON, node: JSON) -> bool:
    """NodeShouldRunDaemonPod: selector/affinity match and every NoSchedule/NoExecute taint tolerated."""
    template = (ds.get("spec") or {}).get("template") or {}
    pod = {"spec": {**(template.get("spec") or {})}}
    if not s.matches_node(pod, node):
        return False
    tolerations = default_tolerations(template.get("spec") or {})
    return s.untolerated(s.taints(node), tolerations, (s.NO_SCHEDULE, s.NO_EXECUTE)) is None


def _available(pod: JSON, min_ready: int, now: float) -> bool:
    ready = s.condition(pod, "Ready")
    if not ready or ready.get("status") != "True" or pod["metadata"].get("deletionTimestamp"):
        return False
    if min_ready <= 0:
        return True
    since = ready.get("lastTransitionTime")
    return isinstance(since, str) and now - parse_time(since) >= min_ready


def _max_unavailable(ds: JSON, desired: int) -> int:
    rolling = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    value = rolling.get("maxUnavailable", 1)
    if isinstance(value, str) and value.endswith("%"):
        return max(int(desired * int(value[:-1]) / 100), 1) if desired else 1  # rounded down, at least 1
    return max(int(value), 1) if int(value) >= 0 else 1


@register
class DaemonSetController(Controller):
    name = "daemonset-controller"
    watches: ClassVar[tuple[str, ...]] = (STORAGE, "pods", "nodes")

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.storage == STORAGE:
            return [key_of(change.obj)]
        if change.storage == "pods":
            owner = controller_owner(change.obj)
            if owner and owner.get("kind") == "DaemonSet":
                return [(change.obj["metadata"]["namespace"], owner["name"])]
            return []
        return [key_of(ds) for ds in self.client.store.list_objects(STORAGE)[0]]

    def reconcile(self, key: Key) -> float | None:
        ds = self.client.get(STORAGE, *key)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return None
        spec = ds.get("spec") or {}
        template = spec.get("template") or {}
        current_hash = template_hash(template)
        nodes = {n["metadata"]["name"]: n for n in self.client.store.list_objects("nodes")[0]}
        eligible = {name for name, node in nodes.items() if should_run(ds, node)}
        by_node: dict[str, list[JSON]] = {}
        for pod in self.client.owned("pods", ds):
            if s.is_terminal(pod) and not pod["metadata"].get("deletionTimestamp"):
                self._delete(ds, pod)  # a failed daemon pod is killed and replaced
                continue
            node = s.node_of(pod) or s.affinity_node_name(pod) or ""
            by_node.setdefault(node, []).append(pod)
        now = self.clock.now()
        min_ready = int(spec.get("minReadySeconds") or 0)
        for node, pods in by_node.items():
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            if node not in eligible:
                for pod in live:
                    self._delete(ds, pod)
            elif len(live) > 1:
                live.sort(key=lambda p: p["metadata"]["creationTimestamp"])
                for pod in live[1:]:
                    self._delete(ds, pod)
        for node in sorted(eligible - {n for n, pods in by_node.items() if pods}):
            self._create(ds, node, current_hash)
        if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            self._roll(ds, eligible, by_node, current_hash=current_hash, min_ready=min_ready, now=now)
        self._status(ds, eligible, by_node, current_hash=current_hash, min_ready=min_ready, now=now)
        return 1.0 if min_ready else None

    def _roll(
        self,
        ds: JSON,
        eligible: set[str],
        by_node: dict[str, list[JSON]],
        *,
        current_hash: str,
        min_ready: int,
        now: float,
    ) -> None:
        """Delete old pods, unavailable ones first, while at most maxUnavailable nodes lack an available
        pod."""
        budget = _max_unavailable(ds, len(eligible))
        old_available, unavailable = [], 0
        for node in sorted(eligible):
            pods = [p for p in by_node.get(node, []) if not p["metadata"].get("deletionTimestamp")]
            if not pods or not _available(pods[0], min_ready, now):
                unavailable += 1
                for pod in pods:
                    if (pod["metadata"].get("labels") or {}).get(HASH_LABEL) != current_hash:
                        self._delete(ds, pod)
                continue
            if (pods[0]["metadata"].get("labels") or {}).get(HASH_LABEL) != current_hash:
                old_available.append(pods[0])
        for pod in old_available[: max(budget - unavailable, 0)]:
            self._delete(ds, pod)

    def _create(self, ds: JSON, node: str, current_hash: str) -> None:
        template = clone((ds.get("spec") or {}).get("template") or {})
        metadata = template.get("metadata") or {}
        labels = {**(metadata.get("labels") or {}), HASH_LABEL: current_hash}
        labels[GENERATION_LABEL] = str(ds["metadata"].get("generation", 1))
        pod_spec = template.get("spec") or {}
        pod_spec["affinity"] = _affinity(pod_spec, node)
        pod_spec["tolerations"] = default_tolerations(pod_spec)
        body = {
            "metadata": {
                "generateName": f"{ds['metadata']['name']}-",
                "labels": labels,
                "annotations": metadata.get("annotations") or {},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "DaemonSet",
                        "name": ds["metadata"]["name"],
                        "uid": ds["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": pod_spec,
        }
        if not body["metadata"]["annotations"]:
            del body["metadata"]["annotations"]
        try:
            pod = self.client.create("pods", ds["metadata"]["namespace"], body)
        except Exception as error:
            message = getattr(error, "message", str(error))
            self.events.warning(ds, "FailedCreate", f"Error creating: {message}")
            raise
        self.events.normal(ds, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")

    def _delete(self, ds: JSON, pod: JSON) -> None:
        self.client.delete(
            "pods", pod["metadata"]["namespace"], pod["metadata"]["name"], uid=pod["metadata"]["uid"]
        )
        pod["metadata"]["deletionTimestamp"] = "deleting"
        self.events.normal(ds, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")

    def _status(
        self,
        ds: JSON,
        eligible: set[str],
        by_node: dict[str, list[JSON]],
        *,
        current_hash: str,
        min_ready: int,
        now: float,
    ) -> None:
        scheduled = misscheduled = ready = available = updated = 0
        for node, pods in by_node.items():
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp") and s.node_of(p)]
            if not live:
                continue
            if node not in eligible:
                misscheduled += 1
                continue
            scheduled += 1
            pod = live[0]
            if s.pod_ready(pod):
                ready += 1
            if _available(pod, min_ready, now):
                available += 1
            if (pod["metadata"].get("labels") or {}).get(HASH_LABEL) == current_hash:
                updated += 1
        status: JSON = {
            "currentNumberScheduled": scheduled,
            "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": len(eligible),
            "numberReady": ready,
            "observedGeneration": ds["metadata"].get("generation", 1),
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
        }
        if len(eligible) - available:
            status["numberUnavailable"] = len(eligible) - available
        old = ds.get("status") or {}
        if {k: v for k, v in old.items() if k not in ("conditions", "collisionCount")} == status:
            return
        ds["status"] = {**{k: v for k, v in old.items() if k in ("conditions", "collisionCount")}, **status}
        self.client.replace(STORAGE, ds, subresource="status")
