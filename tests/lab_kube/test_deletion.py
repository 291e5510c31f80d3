"""Deletion: grace periods, finalizers, owner references and garbage collection, namespaces, eviction."""

from __future__ import annotations

from typing import Any

from tests.lab_kube.conftest import pod_body
from vaultinject.lab.kube.harness import LabKube, wait_for


def gone(kube: LabKube, path: str) -> bool:
    return kube.request("GET", path)[0] == 404


def owned_by(owner: dict[str, Any]) -> list[dict[str, Any]]:
    metadata = owner["metadata"]
    return [
        {
            "apiVersion": owner.get("apiVersion", "apps/v1"),
            "kind": owner.get("kind", "ReplicaSet"),
            "name": metadata["name"],
            "uid": metadata["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def replica_set(kube: LabKube, namespace: str, name: str) -> dict[str, Any]:
    labels = {"app": name}
    body = {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            },
        },
    }
    return dict(kube.call("POST", f"/apis/apps/v1/namespaces/{namespace}/replicasets", body))


def owned_pod(kube: LabKube, namespace: str, name: str, owner: dict[str, Any]) -> None:
    body = pod_body(name)
    body["metadata"]["ownerReferences"] = owned_by(owner)
    kube.call("POST", f"/api/v1/namespaces/{namespace}/pods", body)


def test_background_deletion_collects_dependents(kube: LabKube, namespace: str) -> None:
    owner = replica_set(kube, namespace, "web")
    owned_pod(kube, namespace, "web-a", owner)
    owned_pod(kube, namespace, "web-b", owner)
    kube.call("DELETE", f"/apis/apps/v1/namespaces/{namespace}/replicasets/web")
    wait_for(
        lambda: (
            gone(kube, f"/api/v1/namespaces/{namespace}/pods/web-a")
            and gone(kube, f"/api/v1/namespaces/{namespace}/pods/web-b")
        )
    )


def test_orphan_deletion_keeps_dependents_without_the_reference(kube: LabKube, namespace: str) -> None:
    owner = replica_set(kube, namespace, "web")
    owned_pod(kube, namespace, "web-a", owner)
    kube.call(
        "DELETE", f"/apis/apps/v1/namespaces/{namespace}/replicasets/web", {"propagationPolicy": "Orphan"}
    )
    wait_for(lambda: gone(kube, f"/apis/apps/v1/namespaces/{namespace}/replicasets/web"))
    pod = kube.call("GET", f"/api/v1/namespaces/{namespace}/pods/web-a")
    assert "ownerReferences" not in pod["metadata"]


def test_foreground_deletion_waits_for_dependents(kube: LabKube, namespace: str) -> None:
    owner = replica_set(kube, namespace, "web")
    body = pod_body("held")
    body["metadata"].update({"ownerReferences": owned_by(owner), "finalizers": ["example.com/hold"]})
    kube.call("POST", f"/api/v1/namespaces/{namespace}/pods", body)
    deleting = kube.call(
        "DELETE", f"/apis/apps/v1/namespaces/{namespace}/replicasets/web", {"propagationPolicy": "Foreground"}
    )
    assert deleting["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert deleting["metadata"]["deletionTimestamp"]
    held = wait_for(
        lambda: kube.call("GET", f"/api/v1/namespaces/{namespace}/pods/held")["metadata"].get(
            "deletionTimestamp"
        )
    )
    assert held
    assert kube.call("GET", f"/apis/apps/v1/namespaces/{namespace}/replicasets/web")["metadata"][
        "deletionTimestamp"
    ]
    kube.call(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/pods/held",
        [{"op": "remove", "path": "/metadata/finalizers"}],
        content_type="application/json-patch+json",
    )
    wait_for(lambda: gone(kube, f"/apis/apps/v1/namespaces/{namespace}/replicasets/web"))


def test_finalizers_hold_an_object_until_removed(kube: LabKube, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/held"
    kube.call(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"metadata": {"name": "held", "finalizers": ["example.com/x"]}},
    )
    deleting = kube.call("DELETE", path)
    assert deleting["metadata"]["deletionTimestamp"]
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 0
    assert kube.call("GET", path)["metadata"]["finalizers"] == ["example.com/x"]
    kube.call("PATCH", path, {"metadata": {"finalizers": None}}, content_type="application/merge-patch+json")
    assert gone(kube, path)


def test_dependent_of_a_missing_owner_is_collected(kube: LabKube, namespace: str) -> None:
    ghost = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"},
    }
    owned_pod(kube, namespace, "orphan", ghost)
    wait_for(lambda: gone(kube, f"/api/v1/namespaces/{namespace}/pods/orphan"))


def test_scheduled_pods_terminate_gracefully(private_kube: LabKube) -> None:
    kube = private_kube
    assert kube.server is not None
    kube.ensure_namespace("g")
    kube.create_pod("g", "unscheduled")
    immediate = kube.call("DELETE", "/api/v1/namespaces/g/pods/unscheduled")
    assert "deletionTimestamp" not in immediate["metadata"]
    kube.create_pod("g", "web", node_name="node-1")
    deleting = kube.call("DELETE", "/api/v1/namespaces/g/pods/web")
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 30
    assert (
        kube.call("GET", "/api/v1/namespaces/g/pods/web")["metadata"]["deletionTimestamp"]
        == deleting["metadata"]["deletionTimestamp"]
    )
    shorter = kube.call("DELETE", "/api/v1/namespaces/g/pods/web?gracePeriodSeconds=10")
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 10
    kube.server.clock.advance(11)
    wait_for(lambda: gone(kube, "/api/v1/namespaces/g/pods/web"))
    kube.create_pod("g", "forced", node_name="node-1")
    kube.call("DELETE", "/api/v1/namespaces/g/pods/forced", {"gracePeriodSeconds": 0})
    assert gone(kube, "/api/v1/namespaces/g/pods/forced")


def test_namespace_deletion_terminates_then_removes_everything(kube: LabKube) -> None:
    kube.ensure_namespace("doomed")
    kube.call(
        "POST",
        "/api/v1/namespaces/doomed/configmaps",
        {"metadata": {"name": "held", "finalizers": ["example.com/x"]}},
    )
    kube.create_pod("doomed", "p")
    terminating = kube.call("DELETE", "/api/v1/namespaces/doomed")
    assert terminating["status"]["phase"] == "Terminating"
    wait_for(lambda: gone(kube, "/api/v1/namespaces/doomed/pods/p"))
    status, body = kube.request(
        "POST", "/api/v1/namespaces/doomed/configmaps", {"metadata": {"name": "late"}}
    )
    assert status == 403
    assert (
        body["message"]
        == 'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated'
    )
    assert body["details"]["causes"] == [
        {
            "reason": "NamespaceTerminating",
            "message": "namespace doomed is being terminated",
            "field": "metadata.namespace",
        }
    ]
    kube.call(
        "PATCH",
        "/api/v1/namespaces/doomed/configmaps/held",
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    wait_for(lambda: gone(kube, "/api/v1/namespaces/doomed"))


def test_delete_preconditions(kube: LabKube, namespace: str) -> None:
    kube.call("POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "c"}})
    status, body = kube.request(
        "DELETE", f"/api/v1/namespaces/{namespace}/configmaps/c", {"preconditions": {"uid": "other"}}
    )
    assert status == 409
    assert body["message"].startswith(
        'Operation cannot be fulfilled on configmaps "c": Precondition failed: UID in precondition: other'
    )
    deleted = kube.call("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/c")
    assert deleted["status"] == "Success"
    assert deleted["details"]["name"] == "c"


def test_eviction_and_binding_subresources(core: Any, kube: LabKube, namespace: str) -> None:
    kube.create_pod(namespace, "victim")
    bound = kube.call(
        "POST",
        f"/api/v1/namespaces/{namespace}/pods/victim/binding",
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "victim"},
            "target": {"kind": "Node", "name": "node-9"},
        },
    )
    assert bound["status"] == "Success"
    assert core.read_namespaced_pod("victim", namespace).spec.node_name == "node-9"
    status, again = kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/pods/victim/binding", {"target": {"name": "node-8"}}
    )
    assert status == 409
    assert (
        again["message"]
        == 'Operation cannot be fulfilled on pods/binding "victim": pod victim is already assigned to node "node-9"'
    )
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "victim", "namespace": namespace},
        "deleteOptions": {"gracePeriodSeconds": 0},
    }
    answer = kube.call("POST", f"/api/v1/namespaces/{namespace}/pods/victim/eviction", eviction)
    assert answer == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    assert gone(kube, f"/api/v1/namespaces/{namespace}/pods/victim")


def test_delete_collection_by_label(core: Any, namespace: str) -> None:
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name, "labels": {"tier": tier}}})
    deleted = core.delete_collection_namespaced_config_map(namespace, label_selector="tier=web")
    assert deleted is not None
    remaining = [c.metadata.name for c in core.list_namespaced_config_map(namespace).items]
    assert remaining == ["c", "kube-root-ca.crt"]
