"""Deletion semantics: grace periods (rest.BeforeDelete), finalizers, propagation policies and namespace
termination. The garbage collector and namespace controller in `gc` finish what is started here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vaultinject.lab.kube import views
from vaultinject.lab.kube.clock import parse_time, rfc3339
from vaultinject.lab.kube.model import SYSTEM, DeleteOptions, Operation, clone
from vaultinject.lab.kube.resources import ResourceType
from vaultinject.lab.kube.status import ApiError, conflict
from vaultinject.lab.kube.store import Conflict

if TYPE_CHECKING:
    from vaultinject.lab.kube.cluster import Cluster

JSON = dict[str, Any]
_MAX_RETRIES = 16


class Deleter:
    """DELETE for one Cluster: returns (object, still present) as the generic registry store does."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def delete(
        self, rt: ResourceType, namespace: str, name: str, options: DeleteOptions, op: Operation
    ) -> tuple[JSON, bool]:
        """Delete, honouring grace periods, finalizers and propagation; returns (object, still present)."""
        for _ in range(_MAX_RETRIES):
            current = self.cluster.current(rt, namespace, name)
            check_preconditions(rt, current, options)
            try:
                return self._delete_once(rt, current, options, op)
            except Conflict:
                continue
        raise conflict(rt.group_resource, name)

    def _delete_once(
        self, rt: ResourceType, current: JSON, options: DeleteOptions, op: Operation
    ) -> tuple[JSON, bool]:
        self.cluster.admit("DELETE", rt, "", None, current, op=op, options_kind="DeleteOptions")
        now = self.cluster.clock.now()
        grace = self._grace_period(rt, current, options)
        metadata = current["metadata"]
        expected = metadata.get("resourceVersion")
        finalizers = list(metadata.get("finalizers") or [])
        policy = options.propagation or ("Orphan" if rt.orphans_by_default else "Background")
        gc_finalizer = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(policy)
        if gc_finalizer and gc_finalizer not in finalizers and not metadata.get("deletionTimestamp"):
            finalizers.append(gc_finalizer)
        if metadata.get("deletionTimestamp"):
            return self._delete_again(rt, current, options, op)
        if rt.storage_key == "namespaces":
            return self._mark_namespace_terminating(rt, current, now, op), True
        if grace == 0 and not finalizers:
            if op.dry_run:
                return views.from_storage(rt, current), False
            deleted = self.cluster.store.delete(
                rt.storage_key, metadata.get("namespace", ""), metadata["name"], expected
            )
            return views.from_storage(rt, deleted), False
        pending = clone(current)
        pending["metadata"]["deletionTimestamp"] = rfc3339(now + grace)
        pending["metadata"]["deletionGracePeriodSeconds"] = grace
        if finalizers:
            pending["metadata"]["finalizers"] = finalizers
        if rt.tracks_generation:
            pending["metadata"]["generation"] = int(metadata.get("generation") or 0) + 1
        if op.dry_run:
            return views.from_storage(rt, pending), True
        return views.from_storage(rt, self.cluster.store.update(rt.storage_key, pending, expected)), True

    def _grace_period(self, rt: ResourceType, obj: JSON, options: DeleteOptions) -> int:
        if rt.storage_key != "pods":
            return 0
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in {"Succeeded", "Failed"}:
            return 0
        if options.grace_period is not None:
            return max(options.grace_period, 0)
        return int(spec.get("terminationGracePeriodSeconds") or 0)

    def _delete_again(
        self, rt: ResourceType, current: JSON, options: DeleteOptions, op: Operation
    ) -> tuple[JSON, bool]:
        """rest.BeforeDelete on an object already being deleted: only a shorter grace period changes it."""
        metadata = current["metadata"]
        expected = metadata.get("resourceVersion")
        period = metadata.get("deletionGracePeriodSeconds") or 0
        if period == 0:
            if metadata.get("finalizers") or op.dry_run:
                return views.from_storage(rt, current), True
            return views.from_storage(rt, self.cluster.remove(rt, clone(current), expected)), False
        wanted = options.grace_period
        if wanted is None or max(wanted, 0) >= period:
            return views.from_storage(rt, current), True
        wanted = max(wanted, 0)
        shortened = clone(current)
        deadline = parse_time(metadata["deletionTimestamp"]) - period + wanted
        shortened["metadata"]["deletionTimestamp"] = rfc3339(deadline)
        shortened["metadata"]["deletionGracePeriodSeconds"] = wanted
        if op.dry_run:
            return views.from_storage(rt, shortened), True
        if wanted == 0 and not metadata.get("finalizers"):
            return views.from_storage(rt, self.cluster.remove(rt, shortened, expected)), False
        return views.from_storage(rt, self.cluster.store.update(rt.storage_key, shortened, expected)), True

    def _mark_namespace_terminating(self, rt: ResourceType, current: JSON, now: float, op: Operation) -> JSON:
        terminating: JSON = clone(current)
        terminating["metadata"]["deletionTimestamp"] = rfc3339(now)
        terminating["metadata"]["deletionGracePeriodSeconds"] = 0
        terminating["status"] = {"phase": "Terminating"}
        if op.dry_run:
            return terminating
        expected = current["metadata"].get("resourceVersion")
        return views.from_storage(rt, self.cluster.store.update(rt.storage_key, terminating, expected))

    def finish(self, rt: ResourceType, namespace: str, name: str) -> None:
        """Complete a graceful deletion whose grace period is over (the kubelet's final delete)."""
        self.delete(rt, namespace, name, DeleteOptions(grace_period=0), Operation(SYSTEM, admit=False))

    def remove_finalizer(self, rt: ResourceType, obj: JSON, finalizer: str) -> None:
        """Drop one finalizer (a controller's last step); the object goes once none are left."""
        metadata = obj["metadata"]
        for _ in range(_MAX_RETRIES):
            current = self.cluster.store.get(rt.storage_key, metadata.get("namespace", ""), metadata["name"])
            if current is None or finalizer not in (current["metadata"].get("finalizers") or []):
                return
            updated = clone(current)
            updated["metadata"]["finalizers"] = [
                f for f in updated["metadata"]["finalizers"] if f != finalizer
            ]
            if not updated["metadata"]["finalizers"]:
                del updated["metadata"]["finalizers"]
            try:
                if finished_deleting(updated):
                    self.cluster.remove(rt, updated, current["metadata"].get("resourceVersion"))
                else:
                    self.cluster.store.update(
                        rt.storage_key, updated, current["metadata"].get("resourceVersion")
                    )
                return
            except (Conflict, ApiError):
                continue


def check_preconditions(rt: ResourceType, current: JSON, options: DeleteOptions) -> None:
    metadata = current["metadata"]
    name = metadata["name"]
    if options.precondition_uid and options.precondition_uid != metadata.get("uid"):
        raise conflict(
            rt.group_resource,
            name,
            f"Precondition failed: UID in precondition: {options.precondition_uid}, "
            f"UID in object meta: {metadata.get('uid')}",
        )
    if options.precondition_rv and options.precondition_rv != metadata.get("resourceVersion"):
        raise conflict(
            rt.group_resource,
            name,
            f"Precondition failed: ResourceVersion in precondition: {options.precondition_rv}, "
            f"ResourceVersion in object meta: {metadata.get('resourceVersion')}",
        )


def finished_deleting(obj: JSON) -> bool:
    metadata = obj["metadata"]
    return bool(
        metadata.get("deletionTimestamp")
        and not metadata.get("finalizers")
        and metadata.get("deletionGracePeriodSeconds") == 0
    )
