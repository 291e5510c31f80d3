"""RBAC: roles and bindings decide what service accounts may do; denials carry the real message."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.kube.harness import LabKube
from vaultinject.lab.kube.model import UserInfo

RBAC = "/apis/rbac.authorization.k8s.io/v1"
REF = "rbac.authorization.k8s.io"


def role(kube: LabKube, namespace: str, name: str, rules: list[dict[str, Any]]) -> None:
    kube.call("POST", f"{RBAC}/namespaces/{namespace}/roles", {"metadata": {"name": name}, "rules": rules})


def bind(
    kube: LabKube, namespace: str, role_kind: str, role_name: str, subject: dict[str, Any], *, name: str = ""
) -> None:
    body = {
        "metadata": {"name": name or f"{role_name}-binding"},
        "roleRef": {"apiGroup": REF, "kind": role_kind, "name": role_name},
        "subjects": [subject],
    }
    kube.call("POST", f"{RBAC}/namespaces/{namespace}/rolebindings", body)


def account(namespace: str, name: str = "default") -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def test_role_grants_only_its_verbs_in_its_namespace(kube: LabKube, namespace: str) -> None:
    other = f"{namespace}-b"
    kube.ensure_namespace(other)
    role(
        kube,
        namespace,
        "pod-reader",
        [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
    )
    bind(kube, namespace, "Role", "pod-reader", account(namespace))
    kube.create_pod(namespace, "p")
    token = kube.mint_token(namespace, "default")
    user = f"system:serviceaccount:{namespace}:default"
    assert kube.request("GET", f"/api/v1/namespaces/{namespace}/pods", token=token)[0] == 200
    assert kube.request("GET", f"/api/v1/namespaces/{namespace}/pods/p", token=token)[0] == 200
    status, body = kube.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/p", token=token)
    assert status == 403
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'pods "p" is forbidden: User "{user}" cannot delete resource "pods" in API group "" in the namespace "{namespace}"',
        "reason": "Forbidden",
        "details": {"name": "p", "kind": "pods"},
        "code": 403,
    }
    status, body = kube.request("GET", f"/api/v1/namespaces/{other}/pods", token=token)
    assert (
        body["message"]
        == f'pods is forbidden: User "{user}" cannot list resource "pods" in API group "" in the namespace "{other}"'
    )
    status, body = kube.request("GET", f"/api/v1/namespaces/{namespace}/secrets", token=token)
    assert status == 403
    status, body = kube.request(
        "GET", f"/api/v1/namespaces/{namespace}/pods?watch=true&timeoutSeconds=1", token=token
    )
    assert status == 200
    status, body = kube.request("GET", f"/api/v1/namespaces/{namespace}/pods/p/log", token=token)
    assert body["message"] == (
        f'pods "p" is forbidden: User "{user}" cannot get resource "pods/log" in API group "" in the namespace "{namespace}"'
    )


def test_grouped_resources_and_cluster_scope_messages(kube: LabKube, namespace: str) -> None:
    token = kube.mint_token(namespace, "default")
    user = f"system:serviceaccount:{namespace}:default"
    status, body = kube.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{namespace}/deployments/web",
        {"spec": {}},
        token=token,
        content_type="application/merge-patch+json",
    )
    assert status == 403
    assert body["message"] == (
        f'deployments.apps "web" is forbidden: User "{user}" cannot patch resource "deployments" in API group "apps" '
        f'in the namespace "{namespace}"'
    )
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    status, body = kube.request("GET", "/api/v1/nodes", token=token)
    assert (
        body["message"]
        == f'nodes is forbidden: User "{user}" cannot list resource "nodes" in API group "" at the cluster scope'
    )


def test_cluster_role_binding_grants_everywhere_and_role_binding_to_one_namespace(
    kube: LabKube, namespace: str
) -> None:
    kube.call(
        "POST",
        f"{RBAC}/clusterroles",
        {
            "metadata": {"name": f"cm-reader-{namespace}"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        },
    )
    bind(kube, namespace, "ClusterRole", f"cm-reader-{namespace}", account(namespace))
    token = kube.mint_token(namespace, "default")
    assert kube.request("GET", f"/api/v1/namespaces/{namespace}/configmaps", token=token)[0] == 200
    assert kube.request("GET", "/api/v1/namespaces/default/configmaps", token=token)[0] == 403
    kube.call(
        "POST",
        f"{RBAC}/clusterrolebindings",
        {
            "metadata": {"name": f"nodes-{namespace}"},
            "roleRef": {"apiGroup": REF, "kind": "ClusterRole", "name": "view"},
            "subjects": [account(namespace)],
        },
    )
    assert kube.request("GET", "/api/v1/namespaces/default/configmaps", token=token)[0] == 200


def test_resource_names_and_subresources(kube: LabKube, namespace: str) -> None:
    role(
        kube,
        namespace,
        "one-secret",
        [
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["allowed"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        ],
    )
    bind(kube, namespace, "Role", "one-secret", account(namespace))
    for name in ("allowed", "denied"):
        kube.call("POST", f"/api/v1/namespaces/{namespace}/secrets", {"metadata": {"name": name}})
    token = kube.mint_token(namespace, "default")
    assert kube.request("GET", f"/api/v1/namespaces/{namespace}/secrets/allowed", token=token)[0] == 200
    assert kube.request("GET", f"/api/v1/namespaces/{namespace}/secrets/denied", token=token)[0] == 403
    assert kube.request("GET", f"/api/v1/namespaces/{namespace}/secrets", token=token)[0] == 403
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default/token"
    assert kube.request("POST", path, {"spec": {}}, token=token)[0] == 201
    assert (
        kube.request("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default", token=token)[0] == 403
    )


def test_group_subjects(kube: LabKube, namespace: str) -> None:
    role(
        kube,
        namespace,
        "lease-writer",
        [
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "verbs": ["create", "get", "update"],
            }
        ],
    )
    bind(
        kube,
        namespace,
        "Role",
        "lease-writer",
        {"kind": "Group", "name": f"system:serviceaccounts:{namespace}", "apiGroup": REF},
    )
    kube.ensure_service_account(namespace, "healer")
    token = kube.mint_token(namespace, "healer")
    lease = {"metadata": {"name": "healer"}, "spec": {"holderIdentity": "healer-0"}}
    assert (
        kube.request(
            "POST", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases", lease, token=token
        )[0]
        == 201
    )


def test_user_subjects_with_a_registered_static_token(kube: LabKube, namespace: str) -> None:
    assert kube.server is not None
    kube.server.authenticator.register(f"token-for-alice-{namespace}", UserInfo("alice", groups=("devs",)))
    bind(kube, namespace, "ClusterRole", "edit", {"kind": "User", "name": "alice", "apiGroup": REF})
    token = f"token-for-alice-{namespace}"
    assert (
        kube.request(
            "POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "c"}}, token=token
        )[0]
        == 201
    )
    review = kube.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, token=token)
    assert review["status"]["userInfo"] == {"username": "alice", "groups": ["devs", "system:authenticated"]}


def test_aggregated_cluster_roles_collect_labelled_rules(kube: LabKube, namespace: str) -> None:
    kube.call(
        "POST",
        f"{RBAC}/clusterroles",
        {
            "metadata": {"name": f"agg-{namespace}"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": namespace}}]},
            "rules": [],
        },
    )
    kube.call(
        "POST",
        f"{RBAC}/clusterroles",
        {
            "metadata": {"name": f"part-{namespace}", "labels": {"agg": namespace}},
            "rules": [{"apiGroups": [""], "resources": ["events"], "verbs": ["list"]}],
        },
    )
    bind(kube, namespace, "ClusterRole", f"agg-{namespace}", account(namespace))
    assert (
        kube.request(
            "GET", f"/api/v1/namespaces/{namespace}/events", token=kube.mint_token(namespace, "default")
        )[0]
        == 200
    )


def test_non_resource_paths(kube: LabKube, namespace: str) -> None:
    token = kube.mint_token(namespace, "default")
    assert kube.request("GET", "/apis", token=token)[0] == 200
    assert kube.request("GET", "/version", token=token)[0] == 200
    status, body = kube.request("GET", "/metrics", token=token)
    assert status == 403
    assert (
        body["message"]
        == f'forbidden: User "system:serviceaccount:{namespace}:default" cannot get path "/metrics"'
    )


def test_access_reviews(kube: LabKube, namespace: str) -> None:
    role(kube, namespace, "pod-reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])
    bind(kube, namespace, "Role", "pod-reader", account(namespace), name="readers")
    user = f"system:serviceaccount:{namespace}:default"
    review: dict[str, Any] = {
        "spec": {
            "user": user,
            "groups": ["system:serviceaccounts"],
            "resourceAttributes": {"namespace": namespace, "verb": "get", "resource": "pods"},
        }
    }
    answer = kube.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    assert answer["status"] == {
        "allowed": True,
        "reason": f'RBAC: allowed by RoleBinding "readers/{namespace}" of Role "pod-reader" to ServiceAccount "default/{namespace}"',
    }
    review["spec"]["resourceAttributes"]["verb"] = "delete"
    assert kube.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)["status"] == {
        "allowed": False
    }
    token = kube.mint_token(namespace, "default")
    own = {"spec": {"resourceAttributes": {"namespace": namespace, "verb": "get", "resource": "pods"}}}
    answer = kube.call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", own, token=token)
    assert answer["status"]["allowed"] is True


def test_admin_bypasses_rbac(kube: LabKube) -> None:
    assert kube.request("GET", "/api/v1/secrets")[0] == 200
    assert kube.request("GET", "/metrics")[0] == 404
