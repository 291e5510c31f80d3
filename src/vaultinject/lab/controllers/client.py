"""What a controller may do to the cluster: the API server's own write paths, as the controller's user."""

from __future__ import annotations

import json
from typing import Any

from vaultinject.lab.kube.cluster import JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, Cluster
from vaultinject.lab.kube.model import DeleteOptions, Operation, UserInfo, clone
from vaultinject.lab.kube.resources import ResourceType
from vaultinject.lab.kube.selectors import LabelSelector
from vaultinject.lab.kube.status import ApiError

JSON = dict[str, Any]
__all__ = ["JSON_PATCH", "MERGE_PATCH", "STRATEGIC_PATCH", "ApiError", "Client", "controller_user"]


def controller_user(name: str) -> UserInfo:
    """The identity kube-controller-manager uses with `--use-service-account-credentials`."""
    username = f"system:serviceaccount:kube-system:{name}"
    groups = ("system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated")
    return UserInfo(username, "", groups)


class Client:
    """Reads come from the store (a controller's informer cache); writes go through `Cluster` with
    admission on, so webhooks, defaulting, validation and resourceVersion checks all apply."""

    def __init__(self, cluster: Cluster, user: UserInfo) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.user = user

    def rt(self, storage: str) -> ResourceType:
        return self.cluster.registry.by_storage(storage)

    def _op(self) -> Operation:
        return Operation(self.user)

    # --- reads (copies: callers may change them) ---

    def get(self, storage: str, namespace: str, name: str) -> JSON | None:
        obj = self.store.get(storage, namespace, name)
        return clone(obj) if obj is not None else None

    def objects(
        self, storage: str, namespace: str | None = None, selector: str | JSON | None = None
    ) -> list[JSON]:
        """Objects of one storage, optionally in one namespace and matching a label selector (a string or a
        `metav1.LabelSelector`)."""
        items, _ = self.store.list_objects(storage, namespace)
        if selector is None:
            return [clone(o) for o in items]
        matches = (
            LabelSelector.parse(selector) if isinstance(selector, str) else LabelSelector.from_json(selector)
        )
        return [clone(o) for o in items if matches.matches(o["metadata"].get("labels") or {})]

    def owned(self, storage: str, owner: JSON) -> list[JSON]:
        """Objects of `storage` whose controller owner reference is `owner`."""
        uid = owner["metadata"]["uid"]
        found = []
        for dep_storage, dep in self.store.dependents(uid):
            if dep_storage != storage:
                continue
            refs = dep["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid and r.get("controller") for r in refs):
                found.append(clone(dep))
        return found

    # --- writes ---

    def create(self, storage: str, namespace: str, body: JSON) -> JSON:
        return self.cluster.create(self.rt(storage), namespace, body, self._op())

    def replace(self, storage: str, obj: JSON, subresource: str = "") -> JSON:
        """PUT, optimistic on the object's resourceVersion (409 if it moved)."""
        metadata = obj["metadata"]
        return self.cluster.replace(
            self.rt(storage),
            metadata.get("namespace", ""),
            metadata["name"],
            obj,
            op=self._op(),
            subresource=subresource,
        )

    def patch(
        self,
        storage: str,
        namespace: str,
        name: str,
        patch: Any,
        *,
        subresource: str = "",
        content_type: str = MERGE_PATCH,
    ) -> JSON:
        body = json.dumps(patch).encode()
        obj, _ = self.cluster.patch(
            self.rt(storage), namespace, name, body, content_type, op=self._op(), subresource=subresource
        )
        return obj

    def delete(
        self,
        storage: str,
        namespace: str,
        name: str,
        *,
        grace_period: int | None = None,
        uid: str | None = None,
        propagation: str | None = None,
    ) -> None:
        """DELETE with the object's own grace period unless one is given; a 404 is not an error."""
        options = DeleteOptions(grace_period=grace_period, propagation=propagation, precondition_uid=uid)
        try:
            self.cluster.delete(self.rt(storage), namespace, name, options, self._op())
        except ApiError as error:
            if error.code != 404:
                raise
