"""Subresources with verbs of their own: serviceaccounts/token, pods/eviction, pods/binding, */scale."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.kube.clock import rfc3339
from vaultinject.lab.kube.cluster import Cluster
from vaultinject.lab.kube.model import DeleteOptions, Operation, clone
from vaultinject.lab.kube.resources import REGISTRY
from vaultinject.lab.kube.status import (
    GroupResource,
    bad_request,
    conflict,
    invalid,
    invalid_value,
    not_found,
    required,
)
from vaultinject.lab.kube.store import Conflict
from vaultinject.lab.kube.tokens import TokenService

JSON = dict[str, Any]
SUCCESS_201 = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
_MIN_EXPIRATION = 600
_MAX_EXPIRATION = 1 << 32


def _bound_object(cluster: Cluster, namespace: str, account_name: str, ref: JSON) -> JSON:
    kind, api_version, name = ref.get("kind", ""), ref.get("apiVersion", ""), ref.get("name", "")
    storage = {("Pod", "v1"): "pods", ("Secret", "v1"): "secrets", ("Node", "v1"): "nodes"}.get(
        (kind, api_version)
    )
    if storage is None:
        group, _, version = api_version.rpartition("/")
        raise bad_request(f"cannot bind token to object of type {group}/{version}, Kind={kind}")
    obj = cluster.store.get(storage, "" if storage == "nodes" else namespace, name)
    if obj is None:
        raise not_found(GroupResource("", storage), name)
    if ref.get("uid") and ref["uid"] != obj["metadata"]["uid"]:
        raise conflict(
            GroupResource("", kind),
            name,
            f"the UID in the bound object reference ({ref['uid']}) does not match the UID in record. "
            "The object might have been deleted and then recreated",
        )
    if storage == "pods" and (obj.get("spec") or {}).get("serviceAccountName") != account_name:
        raise bad_request(
            f'cannot bind token for serviceaccount "{account_name}" '
            "to pod running with different serviceaccount name."
        )
    return {**obj, "kind": kind}


def token_request(cluster: Cluster, tokens: TokenService, namespace: str, name: str, body: JSON) -> JSON:
    """TokenRequest: audiences (the API server's by default), expiry (600s minimum), optional binding."""
    account = cluster.store.get("serviceaccounts", namespace, name)
    if account is None:
        raise not_found(GroupResource("", "serviceaccounts"), name)
    spec = dict(body.get("spec") or {})
    audiences = list(spec.get("audiences") or tokens.api_audiences)
    expiration = spec.get("expirationSeconds")
    expiration = 3600 if expiration is None else expiration
    if not isinstance(expiration, int) or expiration < _MIN_EXPIRATION:
        raise invalid(
            "TokenRequest",
            "authentication.k8s.io",
            name,
            [
                invalid_value(
                    "spec.expirationSeconds", expiration, "may not specify a duration less than 10 minutes"
                )
            ],
        )
    if expiration > _MAX_EXPIRATION:
        raise invalid(
            "TokenRequest",
            "authentication.k8s.io",
            name,
            [
                invalid_value(
                    "spec.expirationSeconds",
                    expiration,
                    "may not specify a duration larger than 2^32 seconds",
                )
            ],
        )
    bound, node = None, None
    ref = spec.get("boundObjectRef")
    if ref:
        bound = _bound_object(cluster, namespace, name, ref)
        ref = {**ref, "uid": bound["metadata"]["uid"]}
        node_name = (bound.get("spec") or {}).get("nodeName") if bound["kind"] == "Pod" else None
        if node_name:
            node_obj = cluster.store.get("nodes", "", node_name)
            node = (node_name, node_obj["metadata"]["uid"] if node_obj else "")
    token, expires = tokens.issue(account, audiences, expiration, bound=bound, node=node)
    spec.update({"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": ref})
    if not ref:
        spec["boundObjectRef"] = None
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": rfc3339(expires)},
    }


def evict(cluster: Cluster, namespace: str, name: str, body: JSON, op: Operation) -> JSON:
    """policy/v1 Eviction: a delete with the eviction's options (no PodDisruptionBudget is enforced)."""
    requested = (body.get("metadata") or {}).get("name")
    if requested and requested != name:
        raise bad_request("name in URL does not match name in Eviction object")
    pods = REGISTRY.by_path("", "v1", "pods")
    assert pods is not None
    cluster.delete(pods, namespace, name, DeleteOptions.from_json(body.get("deleteOptions") or {}), op)
    return dict(SUCCESS_201)


def bind(cluster: Cluster, namespace: str, name: str, body: JSON) -> JSON:
    """v1 Binding: assign the pod to a node (what a scheduler does), marking it PodScheduled."""
    node = (body.get("target") or {}).get("name")
    if not node:
        raise invalid("Binding", "", name, [required("target.name")])
    for _ in range(8):
        pod = cluster.store.get("pods", namespace, name)
        if pod is None:
            raise not_found(GroupResource("", "pods"), name)
        current = (pod.get("spec") or {}).get("nodeName")
        if current:
            raise conflict(
                GroupResource("", "pods/binding"), name, f'pod {name} is already assigned to node "{current}"'
            )
        bound = clone(pod)
        bound["spec"]["nodeName"] = node
        conditions = [
            c
            for c in bound.setdefault("status", {}).get("conditions") or []
            if c.get("type") != "PodScheduled"
        ]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": rfc3339(cluster.clock.now()),
            }
        )
        bound["status"]["conditions"] = conditions
        try:
            cluster.store.update("pods", bound, pod["metadata"].get("resourceVersion"))
            return dict(SUCCESS_201)
        except Conflict:
            continue
    raise conflict(GroupResource("", "pods/binding"), name)


def scale_of(obj: JSON) -> JSON:
    """The autoscaling/v1 Scale view of a Deployment, ReplicaSet or StatefulSet."""
    metadata = obj["metadata"]
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: metadata[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in metadata
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        },
    }
