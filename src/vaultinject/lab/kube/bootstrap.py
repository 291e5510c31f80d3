"""What a fresh cluster already holds: the system namespaces, the bootstrap RBAC roles and bindings, and
the `kubernetes` Service pointing at this server."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.kube.cluster import Cluster
from vaultinject.lab.kube.model import SYSTEM, Operation, clone
from vaultinject.lab.kube.resources import REGISTRY, ResourceType
from vaultinject.lab.kube.status import ApiError
from vaultinject.lab.network import ipam

JSON = dict[str, Any]
NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_RBAC = "rbac.authorization.k8s.io"
_BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}

_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_VIEWABLE_CORE = [
    "pods",
    "pods/log",
    "pods/status",
    "services",
    "services/status",
    "endpoints",
    "configmaps",
    "events",
    "serviceaccounts",
    "namespaces",
    "namespaces/status",
    "persistentvolumeclaims",
]
_WORKLOADS = [
    {
        "apiGroups": ["apps"],
        "resources": [
            "deployments",
            "replicasets",
            "statefulsets",
            "daemonsets",
            "deployments/scale",
            "replicasets/scale",
            "statefulsets/scale",
        ],
    },
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"]},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"]},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"]},
]


def _with_verbs(rules: list[JSON], verbs: list[str]) -> list[JSON]:
    return [{**rule, "verbs": verbs} for rule in rules]


_VIEW = _with_verbs([{"apiGroups": [""], "resources": _VIEWABLE_CORE}, *_WORKLOADS], _READ)
_EDIT = _VIEW + _with_verbs(
    [
        {"apiGroups": [""], "resources": [*_VIEWABLE_CORE, "secrets", "pods/eviction"]},
        *_WORKLOADS,
    ],
    [*_READ, *_WRITE],
)
_ADMIN = _EDIT + _with_verbs(
    [{"apiGroups": [_RBAC], "resources": ["roles", "rolebindings"]}], [*_READ, *_WRITE]
)

CLUSTER_ROLES: dict[str, list[JSON]] = {
    "cluster-admin": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ],
    "admin": _ADMIN,
    "edit": _EDIT,
    "view": _VIEW,
    "system:auth-delegator": [
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
    ],
    "system:basic-user": [
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            "verbs": ["create"],
        },
        {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]},
    ],
    "system:discovery": [
        {
            "nonResourceURLs": [
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
                "/healthz",
                "/livez",
                "/openapi",
                "/openapi/*",
                "/readyz",
                "/version",
                "/version/",
            ],
            "verbs": ["get"],
        },
    ],
    "system:public-info-viewer": [
        {"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]},
    ],
    "system:service-account-issuer-discovery": [
        {
            "nonResourceURLs": [
                "/.well-known/openid-configuration",
                "/.well-known/openid-configuration/",
                "/openid/v1/jwks",
                "/openid/v1/jwks/",
            ],
            "verbs": ["get"],
        },
    ],
    # What a kubelet needs. Real Kubernetes authorizes nodes with the Node authorizer (and NodeRestriction
    # admission), which limits each node to its own Node, Lease and the pods bound to it; the lab grants the
    # union to every node through RBAC, and a ClusterRole cannot confine leases to `kube-node-lease`.
    "system:node": [
        {
            "apiGroups": [""],
            "resources": ["nodes", "nodes/status"],
            "verbs": [*_READ, "create", "update", "patch"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": [*_READ, "delete"]},
        {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["update", "patch"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "create", "update", "patch"],
        },
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["secrets", "configmaps", "services", "endpoints"], "verbs": _READ},
    ],
}

# The issuer-discovery binding also covers unauthenticated callers here, as Vault's JWT-auth docs advise.
CLUSTER_ROLE_BINDINGS: dict[str, list[str]] = {
    "cluster-admin": ["system:masters"],
    "system:basic-user": ["system:authenticated"],
    "system:discovery": ["system:authenticated"],
    "system:public-info-viewer": ["system:authenticated", "system:unauthenticated"],
    "system:service-account-issuer-discovery": ["system:serviceaccounts", "system:unauthenticated"],
    "system:node": ["system:nodes"],
}


def _rt(group: str, plural: str) -> ResourceType:
    rt = REGISTRY.by_path(group, "v1", plural)
    assert rt is not None
    return rt


def _ensure(cluster: Cluster, rt: ResourceType, namespace: str, body: JSON) -> None:
    if cluster.store.get(rt.storage_key, namespace, body["metadata"]["name"]) is not None:
        return
    try:
        cluster.create(rt, namespace, body, Operation(SYSTEM, admit=False))
    except ApiError as error:
        if error.code != 409:
            raise


def bootstrap(cluster: Cluster, server_port: int) -> None:
    """Create whatever of the initial cluster state is missing (idempotent across restarts)."""
    for name in NAMESPACES:
        _ensure(cluster, _rt("", "namespaces"), "", {"metadata": {"name": name}})
    meta = {"labels": _BOOTSTRAP_LABELS, "annotations": _AUTOUPDATE}
    for name, rules in CLUSTER_ROLES.items():
        _ensure(cluster, _rt(_RBAC, "clusterroles"), "", {"metadata": {"name": name, **meta}, "rules": rules})
    for name, groups in CLUSTER_ROLE_BINDINGS.items():
        body = {
            "metadata": {"name": name, **meta},
            "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": _RBAC, "kind": "Group", "name": group} for group in groups],
        }
        _ensure(cluster, _rt(_RBAC, "clusterrolebindings"), "", body)
    _kubernetes_service(cluster, server_port)


def _kubernetes_service(cluster: Cluster, port: int) -> None:
    labels = {"component": "apiserver", "provider": "kubernetes"}
    service = {
        "metadata": {"name": "kubernetes", "labels": labels},
        "spec": {
            "clusterIP": ipam.KUBERNETES_SERVICE_IP,
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            "type": "ClusterIP",
        },
    }
    _ensure(cluster, _rt("", "services"), "default", service)
    subsets = [
        {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
    ]
    current = cluster.store.get("endpoints", "default", "kubernetes")
    if current is None:
        _ensure(
            cluster,
            _rt("", "endpoints"),
            "default",
            {"metadata": {"name": "kubernetes", "labels": labels}, "subsets": subsets},
        )
    elif current.get("subsets") != subsets:
        updated = clone(current)
        updated["subsets"] = subsets
        cluster.store.update("endpoints", updated, current["metadata"].get("resourceVersion"))
