"""Background deletion work: the garbage collector (owner references, `orphan` and `foregroundDeletion`
finalizers), the namespace controller, and a stand-in for the kubelet's final delete once a pod's grace
period is over (switch it off when a real kubelet runs)."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from vaultinject.lab.kube.clock import parse_time
from vaultinject.lab.kube.cluster import Cluster
from vaultinject.lab.kube.model import SYSTEM, DeleteOptions, Operation, clone
from vaultinject.lab.kube.resources import ResourceType
from vaultinject.lab.kube.status import ApiError
from vaultinject.lab.kube.store import Change, StoreError

JSON = dict[str, Any]
log = logging.getLogger(__name__)
_TICK = 0.2


def _internal() -> Operation:
    return Operation(SYSTEM, admit=False)


class GarbageCollector:
    """Reacts to committed changes on its own thread, so writers never wait for it."""

    def __init__(self, cluster: Cluster, reap_pods: bool = True) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.reap_pods = reap_pods
        self._changes: queue.SimpleQueue[Change | None] = queue.SimpleQueue()
        self._pending_pods: dict[tuple[str, str], float] = {}
        self._thread = threading.Thread(target=self._run, name="lab-kube-gc", daemon=True)
        self.store.subscribe(self._changes.put)

    def start(self) -> None:
        self._sweep()
        self._thread.start()

    def stop(self) -> None:
        self._changes.put(None)
        self._thread.join(timeout=5)

    def _rt(self, storage: str) -> ResourceType:
        return self.cluster.registry.by_storage(storage)

    def _run(self) -> None:
        while True:
            try:
                change = self._changes.get(timeout=_TICK)
            except queue.Empty:
                change = None
            else:
                if change is None:
                    return
            try:
                if change is not None:
                    self._handle(change)
                self._reap_pods()
            except StoreError:
                return
            except Exception:
                log.exception("garbage collector step failed")

    def _sweep(self) -> None:
        """After a restart: resume deletions that were in progress."""
        for storage, obj in self.store.iter_all():
            self._handle(Change(0, "MODIFIED", storage, obj, obj))

    def _handle(self, change: Change) -> None:
        obj, metadata = change.obj, change.obj["metadata"]
        if change.type == "DELETED":
            self._collect_dependents(metadata.get("uid", ""))
            self._pending_pods.pop((metadata.get("namespace", ""), metadata["name"]), None)
            self._recheck_owners(obj)
            self._recheck_namespace(metadata.get("namespace", ""))
            return
        if change.type == "ADDED" and metadata.get("ownerReferences"):
            self._delete_if_orphaned(change.storage, obj)
        if not metadata.get("deletionTimestamp"):
            return
        if change.storage == "namespaces":
            self._finalize_namespace(obj)
            return
        if change.storage == "pods" and metadata.get("deletionGracePeriodSeconds"):
            self._pending_pods[(metadata["namespace"], metadata["name"])] = parse_time(
                metadata["deletionTimestamp"]
            )
        finalizers = metadata.get("finalizers") or []
        if "orphan" in finalizers:
            self._orphan_dependents(change.storage, obj)
        if "foregroundDeletion" in finalizers:
            self._delete_in_foreground(change.storage, obj)

    # --- owner references ---

    def _owners_gone(self, obj: JSON) -> bool:
        refs = obj["metadata"].get("ownerReferences") or []
        return bool(refs) and all(self.store.find_uid(ref.get("uid", "")) is None for ref in refs)

    def _delete(self, storage: str, obj: JSON, propagation: str = "Background") -> None:
        metadata = obj["metadata"]
        try:
            self.cluster.delete(
                self._rt(storage),
                metadata.get("namespace", ""),
                metadata["name"],
                DeleteOptions(propagation=propagation),
                _internal(),
            )
        except ApiError as error:
            if error.code != 404:
                log.warning("could not delete %s %s: %s", storage, metadata["name"], error.message)

    def _collect_dependents(self, owner_uid: str) -> None:
        for storage, dependent in self.store.dependents(owner_uid):
            if self._owners_gone(dependent):
                self._delete(storage, dependent)

    def _delete_if_orphaned(self, storage: str, obj: JSON) -> None:
        if self._owners_gone(obj):
            self._delete(storage, obj)

    def _orphan_dependents(self, storage: str, owner: JSON) -> None:
        uid = owner["metadata"]["uid"]
        for dependent_storage, dependent in self.store.dependents(uid):
            updated = clone(dependent)
            refs = [r for r in updated["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            if refs:
                updated["metadata"]["ownerReferences"] = refs
            else:
                updated["metadata"].pop("ownerReferences", None)
            try:
                self.store.update(dependent_storage, updated, dependent["metadata"].get("resourceVersion"))
            except StoreError:
                self._changes.put(Change(0, "MODIFIED", storage, owner, owner))
                return
        self.cluster.remove_finalizer(self._rt(storage), owner, "orphan")

    def _delete_in_foreground(self, storage: str, owner: JSON) -> None:
        dependents = self.store.dependents(owner["metadata"]["uid"])
        for dependent_storage, dependent in dependents:
            if not dependent["metadata"].get("deletionTimestamp"):
                self._delete(dependent_storage, dependent, "Foreground")
        if not self.store.dependents(owner["metadata"]["uid"]):
            self.cluster.remove_finalizer(self._rt(storage), owner, "foregroundDeletion")

    def _recheck_owners(self, removed: JSON) -> None:
        """A dependent went away: an owner waiting in foreground deletion may now finish."""
        for ref in removed["metadata"].get("ownerReferences") or []:
            found = self.store.find_uid(ref.get("uid", ""))
            if found is not None and "foregroundDeletion" in (found[1]["metadata"].get("finalizers") or []):
                self._delete_in_foreground(found[0], found[1])

    # --- namespaces ---

    def _finalize_namespace(self, namespace: JSON) -> None:
        name = namespace["metadata"]["name"]
        remaining = 0
        for storage in self.store.storages():
            if not self._rt(storage).namespaced:
                continue
            objects, _ = self.store.list_objects(storage, name)
            remaining += len(objects)
            for obj in objects:
                if not obj["metadata"].get("deletionTimestamp"):
                    self._delete(storage, obj)
        if remaining == 0:
            self._remove_namespace(namespace)

    def _remove_namespace(self, namespace: JSON) -> None:
        finished = clone(namespace)
        finished["spec"] = {}
        try:
            self.store.update("namespaces", finished, namespace["metadata"].get("resourceVersion"))
            if not finished["metadata"].get("finalizers"):
                self.store.delete("namespaces", "", finished["metadata"]["name"])
        except StoreError:
            current = self.store.get("namespaces", "", namespace["metadata"]["name"])
            if current is not None:
                self._changes.put(Change(0, "MODIFIED", "namespaces", current, current))

    def _recheck_namespace(self, name: str) -> None:
        if not name:
            return
        namespace = self.store.get("namespaces", "", name)
        if namespace is not None and namespace["metadata"].get("deletionTimestamp"):
            objects = [
                o
                for s in self.store.storages()
                if self._rt(s).namespaced
                for o in self.store.list_objects(s, name)[0]
            ]
            if not objects:
                self._remove_namespace(namespace)

    # --- the kubelet stand-in ---

    def _reap_pods(self) -> None:
        if not self.reap_pods or not self._pending_pods:
            return
        now = self.cluster.clock.now()
        due = [key for key, deadline in self._pending_pods.items() if deadline <= now]
        pods = self._rt("pods")
        for namespace, name in due:
            self._pending_pods.pop((namespace, name), None)
            try:
                self.cluster.finish_deletion(pods, namespace, name)
            except ApiError as error:
                if error.code != 404:
                    log.warning("could not finish deleting pod %s/%s: %s", namespace, name, error.message)
