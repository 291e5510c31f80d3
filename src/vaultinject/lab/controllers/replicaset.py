"""The ReplicaSet controller (`pkg/controller/replicaset`): pods from the template until `replicas` are
active, the least valuable deleted first on scale down, and status with ready/available counts.

The pod helpers here (`is_active`, `is_ready`, `is_available`, `pod_from_template`, ...) are shared by
the other workload controllers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from vaultinject.lab.controllers.base import Controller, Key, controller_owner, key_of
from vaultinject.lab.controllers.client import ApiError
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.kube.clock import parse_time, rfc3339
from vaultinject.lab.kube.model import clone
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
_BURST = 500
"""At most this many pods are created or deleted in one pass (the controller's burstReplicas)."""


# --- pod helpers shared by the workload controllers ---


def is_terminating(pod: JSON) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_terminal(pod: JSON) -> bool:
    return (pod.get("status") or {}).get("phase") in {"Succeeded", "Failed"}


def is_active(pod: JSON) -> bool:
    """controller.IsPodActive: not terminal and not being deleted."""
    return not is_terminal(pod) and not is_terminating(pod)


def ready_condition(pod: JSON) -> JSON | None:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), None)


def is_ready(pod: JSON) -> bool:
    return (ready_condition(pod) or {}).get("status") == "True"


def is_running_and_ready(pod: JSON) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


def available_in(pod: JSON, min_ready_seconds: int, now: float) -> float | None:
    """Seconds until a ready pod counts as available (0 when it already does); None when not ready."""
    if not is_ready(pod):
        return None
    if min_ready_seconds <= 0:
        return 0.0
    since = (ready_condition(pod) or {}).get("lastTransitionTime")
    if not since:
        return float(min_ready_seconds)
    return max(parse_time(since) + min_ready_seconds - now, 0.0)


def is_available(pod: JSON, min_ready_seconds: int, now: float) -> bool:
    """podutil.IsPodAvailable: ready for at least `minReadySeconds`."""
    return available_in(pod, min_ready_seconds, now) == 0.0


def owner_reference(owner: JSON) -> JSON:
    """The controller reference a workload puts on what it creates."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_from_template(template: JSON, owner: JSON, *, name: str = "", generate_name: str = "") -> JSON:
    """controller.GetPodFromTemplate: labels, annotations and finalizers of the template, its spec, and a
    controller reference to `owner`."""
    template_meta = template.get("metadata") or {}
    metadata: JSON = {"ownerReferences": [owner_reference(owner)]}
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = generate_name
    for key in ("labels", "annotations", "finalizers"):
        if template_meta.get(key):
            metadata[key] = clone(template_meta[key])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": clone(template.get("spec") or {}),
    }


def owner_key(obj: JSON, kind: str) -> list[Key]:
    """The key of `obj`'s controller when it is a `kind`."""
    owner = controller_owner(obj)
    if owner is None or owner.get("kind") != kind:
        return []
    return [(obj["metadata"].get("namespace", ""), owner["name"])]


def _deletion_rank(pod: JSON) -> tuple[Any, ...]:
    """controller.ActivePods ordering: the pod to delete first sorts first."""
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", "Pending"), 0)
    ready = is_ready(pod)
    ready_since = (ready_condition(pod) or {}).get("lastTransitionTime") or ""
    restarts = sum(int(s.get("restartCount") or 0) for s in status.get("containerStatuses") or [])
    created = pod["metadata"].get("creationTimestamp") or ""
    return (
        bool((pod.get("spec") or {}).get("nodeName")),
        phase_rank,
        ready,
        # newer ready pods, more restarts and newer pods go first: invert by sorting on negatives
        _desc(ready_since) if ready else 0.0,
        -restarts,
        _desc(created),
    )


def _desc(timestamp: str) -> float:
    return -parse_time(timestamp) if timestamp else 0.0


@register
class ReplicaSetController(Controller):
    name = "replicaset-controller"
    watches: ClassVar[tuple[str, ...]] = ("replicasets.apps", "pods")

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.storage == "pods":
            return owner_key(change.obj, "ReplicaSet")
        return [key_of(change.obj)]

    def reconcile(self, key: Key) -> float | None:
        rs = self.client.get("replicasets.apps", *key)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return None
        pods = [p for p in self.client.owned("pods", rs) if is_active(p)]
        failure: ApiError | None = None
        wanted = int(rs["spec"].get("replicas", 1))
        if len(pods) < wanted:
            failure = self._create(rs, wanted - len(pods), pods)
        elif len(pods) > wanted:
            pods = self._delete(rs, pods, len(pods) - wanted)
        again = self._update_status(rs, pods, failure)
        if failure is not None:
            raise failure  # backoff before trying to create again
        return again

    def _create(self, rs: JSON, count: int, pods: list[JSON]) -> ApiError | None:
        namespace = rs["metadata"]["namespace"]
        body = pod_from_template(rs["spec"]["template"], rs, generate_name=f"{rs['metadata']['name']}-")
        for _ in range(min(count, _BURST)):
            try:
                pod = self.client.create("pods", namespace, clone(body))
            except ApiError as error:
                self.events.warning(rs, "FailedCreate", f"Error creating: {error.message}")
                return error
            pods.append(pod)
            self.events.normal(rs, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
        return None

    def _delete(self, rs: JSON, pods: list[JSON], count: int) -> list[JSON]:
        ranked = sorted(pods, key=_deletion_rank)
        doomed, kept = ranked[: min(count, _BURST)], ranked[min(count, _BURST) :]
        for pod in doomed:
            name = pod["metadata"]["name"]
            try:
                self.client.delete("pods", pod["metadata"]["namespace"], name, uid=pod["metadata"]["uid"])
            except ApiError as error:
                self.events.warning(rs, "FailedDelete", f"Error deleting: {error.message}")
                kept.append(pod)
                continue
            self.events.normal(rs, "SuccessfulDelete", f"Deleted pod: {name}")
        return kept

    def _update_status(self, rs: JSON, pods: list[JSON], failure: ApiError | None) -> float | None:
        spec = rs["spec"]
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.clock.now()
        template_labels = (spec["template"].get("metadata") or {}).get("labels") or {}
        waits = [w for p in pods if (w := available_in(p, min_ready, now))]
        status: JSON = {
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(
                1
                for p in pods
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items())
            ),
            "readyReplicas": sum(1 for p in pods if is_ready(p)),
            "availableReplicas": sum(1 for p in pods if is_available(p, min_ready, now)),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        status = {k: v for k, v in status.items() if v or k == "replicas"}
        old = rs.get("status") or {}
        conditions = [c for c in old.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        if failure is not None:
            previous = next(
                (c for c in old.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None
            )
            conditions.append(
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "lastTransitionTime": (previous or {}).get("lastTransitionTime") or rfc3339(now),
                    "reason": "FailedCreate",
                    "message": failure.message,
                }
            )
        if conditions:
            status["conditions"] = conditions
        if status != old:
            updated = clone(rs)
            updated["status"] = status
            self.client.replace("replicasets.apps", updated, subresource="status")
        return min(waits) + 0.05 if waits else None
